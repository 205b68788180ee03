// Test inputs come from the same seeded generator the engine uses for latents and noise.
export { makeRng, type Rng } from '../../src/random';
