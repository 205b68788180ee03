/**
 * The time conditioning of diffusers UNets (embeddings.py): Timesteps (the sinusoidal projection, computed on
 * the GPU from the timestep tensor so a sampling loop never reads back) followed by TimestepEmbedding
 * (linear_1, SiLU, linear_2, optional post activation), plus the class-label nn.Embedding added to it.
 */
import type { Ops } from '../../kernels/registry';
import type { Tensor } from '../../tensor/tensor';
import { linear2d, type Linear, type Slot, type WeightSet } from './weights';

export interface TimeEmbeddingSpec {
  /** Timesteps' num_channels (block_out_channels[0]). */
  projectionDim: number;
  flipSinToCos: boolean;
  /** freq_shift, diffusers' downscale_freq_shift. */
  freqShift: number;
  /** time_embed_dim. */
  embedDim: number;
  /** timestep_post_act. */
  postAct: 'silu' | null;
}

export class TimeEmbedding {
  private readonly linear1: Linear;
  private readonly linear2: Linear;

  constructor(w: WeightSet, prefix: string, private readonly spec: TimeEmbeddingSpec) {
    this.linear1 = w.linear(`${prefix}.linear_1`, spec.projectionDim, spec.embedDim);
    this.linear2 = w.linear(`${prefix}.linear_2`, spec.embedDim, spec.embedDim);
  }

  /** timesteps (T), f32 or i32 -> (T, time_embed_dim). */
  forward(ops: Ops, timesteps: Tensor): Tensor {
    const s = this.spec;
    const projected = ops.timestepEmbedding(timesteps, s.projectionDim, { flipSinToCos: s.flipSinToCos, downscaleFreqShift: s.freqShift });
    const hidden = linear2d(projected, this.linear1, 'silu');
    projected.dispose();
    const out = linear2d(hidden, this.linear2, s.postAct ?? 'none');
    hidden.dispose();
    return out;
  }
}

/** `class_embedding`: nn.Embedding(num_class_embeds, time_embed_dim). */
export class ClassEmbedding {
  private readonly table: Slot<Tensor>;

  constructor(w: WeightSet, prefix: string, readonly count: number, embedDim: number) {
    this.table = w.tensor(`${prefix}.weight`, [count, embedDim]);
  }

  /**
   * labels (B), integer values as f32 or i32 -> (B, time_embed_dim). A label outside 0..count−1 cannot be
   * seen without reading the tensor back, so its row comes out NaN (and so does that sample's output).
   */
  forward(ops: Ops, labels: Tensor): Tensor {
    return ops.embedding(labels, this.table.value);
  }
}
