/** CPU reference implementations (plain TypeScript, PyTorch semantics) that the GPU kernels are tested against. */
export * from './tensor';
export * from './random';
export * from './compare';
export * from './elementwise';
export * from './matmul';
export * from './softmax';
export * from './shape_ops';
export * from './resample';
export * from './conv';
export * from './attention';
export * from './norm';
export * from './diffusers';
