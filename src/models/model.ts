/** What every loaded model offers, whatever its architecture. */
import type { Tensor } from '../tensor/tensor';
import type { Architecture } from './recognize';

/** A part of a model that runs on its own, e.g. an autoencoder's `encode` and `decode`. */
export interface ModelPart {
  readonly inputNames: readonly string[];
  /** Outputs are new tensors the caller disposes. */
  forward(inputs: Readonly<Record<string, Tensor>>): Record<string, Tensor>;
}

export interface Model extends ModelPart {
  readonly arch: Architecture;
  /** Hyper-parameters, inferred from the tensor shapes or taken from the given config. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Names `forward` expects, e.g. `['latent']`, `['input']` or `['sample', 'timestep', 'class_labels']`. */
  readonly inputNames: readonly string[];
  /** Parts that run on their own (`synthe forward --part NAME`), by name; absent when there are none. */
  readonly parts?: Readonly<Record<string, ModelPart>>;
  /** Frees the model's weights. */
  dispose(): void;
}
