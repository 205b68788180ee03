import { parseArgs } from 'node:util';
import { createEngine } from '../engine';

const LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'minStorageBufferOffsetAlignment',
] as const;

/** `synthe info [--adapter NAME] [--json]` */
export async function info(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { adapter: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log('usage: synthe info [--adapter lavapipe|swiftshader|NAME] [--json]');
    return;
  }
  const engine = await createEngine(values.adapter ? { adapter: values.adapter } : {});
  try {
    const { info: adapter, features, limits } = engine.gpu;
    const report = {
      adapter,
      features: Object.entries(features).filter(([, on]) => on).map(([f]) => f),
      limits: Object.fromEntries(LIMITS.map((l) => [l, limits[l]])),
    };
    if (values.json) {
      console.log(JSON.stringify(report, null, 2));
      return;
    }
    console.log(`adapter      ${adapter.description || adapter.device || '(no description)'}`);
    console.log(`vendor       ${adapter.vendor} (${adapter.architecture || 'unknown architecture'})${adapter.isFallbackAdapter ? ', software fallback' : ''}`);
    console.log(`features     ${report.features.join(', ') || 'none of shader-f16, timestamp-query, subgroups'}`);
    for (const [name, value] of Object.entries(report.limits)) console.log(`${name.padEnd(34)} ${formatLimit(value as number)}`);
  } finally {
    engine.dispose();
  }
}

function formatLimit(value: number): string {
  return value >= 1 << 20 ? `${value} (${(value / (1 << 20)).toFixed(0)} MiB)` : String(value);
}
