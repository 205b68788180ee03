/** Element types a tensor can hold on the GPU. f16 needs the adapter's shader-f16 feature to compute with. */
export type DType = 'f32' | 'f16' | 'i32';

export function bytesPerElement(dtype: DType): number {
  switch (dtype) {
    case 'f32':
    case 'i32':
      return 4;
    case 'f16':
      return 2;
    default:
      return dtype satisfies never;
  }
}
