/** What every loaded model offers, whatever its architecture. */
import type { Tensor } from '../tensor/tensor';
import type { Architecture } from './recognize';

export interface Model {
  readonly arch: Architecture;
  /** Hyper-parameters, inferred from the tensor shapes or taken from the given config. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Names `forward` expects, e.g. `['latent']`, `['input']` or `['sample', 'timestep', 'class_labels']`. */
  readonly inputNames: readonly string[];
  /** Runs the model; outputs are new tensors the caller disposes. */
  forward(inputs: Readonly<Record<string, Tensor>>): Record<string, Tensor>;
  /** Frees the model's weights. */
  dispose(): void;
}
