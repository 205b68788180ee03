/** The base of every error synthe raises on purpose; anything else is a bug. */
export class SyntheError extends Error {
  override name = 'SyntheError';
}

/** A tensor argument whose shape, dtype or size an op cannot accept. */
export class ShapeError extends SyntheError {
  override name = 'ShapeError';
}

/** The device was lost; nothing more can run on this engine. */
export class DeviceLostError extends SyntheError {
  override name = 'DeviceLostError';
}

/** A WGSL shader failed to compile or a pipeline failed to build. */
export class ShaderError extends SyntheError {
  override name = 'ShaderError';
}
