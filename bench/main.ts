/**
 * The benchmark command (`npm run bench`, `npm run bench:browser`; bench/run.mjs builds this file and runs it).
 * In Node each adapter runs in its own child process: Dawn keeps one driver per process cleanly, and a driver
 * crash costs one adapter's results, not the run. Results go to bench/results/<adapter>-<time>.json after
 * every workload; the newest row per workload and adapter across those files makes bench/results/latest.md.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { spliceReadme } from './readme';
import { mergeLatest, renderMarkdown } from './report';
import type { AdapterResult, PeerName } from './results';
import { PEERS } from './results';
import { MODEL_WORKLOADS, selectModelWorkloads } from './workloads/diffusion';
import { selectWorkloads, WORKLOADS } from './workloads/index';

const ROOT = process.cwd();
const RESULTS = join(ROOT, 'bench/results');
const LATEST = join(RESULTS, 'latest.md');
const ADAPTER_ICDS: Record<string, string> = {
  lavapipe: '/usr/share/vulkan/icd.d/lvp_icd.json',
  swiftshader: '/usr/lib/chromium/vk_swiftshader_icd.json',
};
/**
 * `--liftoff-only` keeps ORT's wasm on V8's baseline tier. With normal tiering, V8 in Node 20 stalls the first
 * ORT session for 40–60 s compiling ORT's JSEP wasm with TurboFan (reported as ORT's setup time, outside every
 * timing); Liftoff avoids that but makes ORT's per-run CPU work up to 2.5× slower, so it is off by default.
 */
const LIFTOFF_NOTE = 'ORT wasm on V8 Liftoff only (--liftoff-only): ORT handicapped';

const USAGE = `usage: npm run bench [-- options]            Node, every installed adapter
       npm run bench:browser [-- options]    headless Chromium (SwiftShader)
       node bench/run.mjs readme             splice bench/results/latest.md into README.md
       node bench/run.mjs report             rebuild latest.md from bench/results/*.json

  --adapter <name>   lavapipe, swiftshader or all (default: all installed)
  --only <filter>    workloads whose name or tag contains it; repeat or comma-separate
                     (matmul, add, conv, conv2d, depthwise, 1x1, convT, "128x128", attention,
                     self, cross, L4096, norm)
  --repeat <n>       timed rounds per workload, at most (default 7)
  --warmup <n>       untimed rounds after the cold run and the checked run (default 0)
  --budget <s>       seconds of timed rounds per workload before rounds are cut, min 3 (default 10)
  --max-run <s>      skip a peer whose run is estimated (from its speed on an earlier workload of the same op)
                     to take longer (default 60)
  --profile <n>      timestamp-profiled runs of the default call and of each variant, best counts (default 3)
  --peers <list>     tfjs,ort (default) or none
  --no-variants      do not time every variant
  --no-roofline      skip the FMA/copy probe
  --readme           splice latest.md into README.md afterwards
  --liftoff-only     keep ORT's wasm on V8's baseline tier: no 40-60 s stall, slower ORT (bench/README.md)
  --list             print the workloads and exit`;

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    adapter: { type: 'string', default: 'all' },
    only: { type: 'string', multiple: true, default: [] },
    repeat: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '0' },
    budget: { type: 'string', default: '10' },
    'max-run': { type: 'string', default: '60' },
    profile: { type: 'string', default: '3' },
    peers: { type: 'string', default: PEERS.join(',') },
    'no-variants': { type: 'boolean', default: false },
    'no-roofline': { type: 'boolean', default: false },
    readme: { type: 'boolean', default: false },
    'liftoff-only': { type: 'boolean', default: false },
    browser: { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
    // Internal: run one adapter in this process and write its results to --out.
    child: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

function count(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}

const filters = args.only.flatMap((f) => f.split(',')).map((f) => f.trim()).filter(Boolean);
const peers = args.peers === 'none' ? [] : (args.peers.split(',').map((p) => p.trim()) as PeerName[]);
for (const p of peers) if (!PEERS.includes(p)) throw new Error(`--peers: unknown peer '${p}' (known: ${PEERS.join(', ')}, none)`);
const suite = {
  repeat: count('repeat', args.repeat, 1),
  warmup: count('warmup', args.warmup, 0),
  budgetMs: 1000 * count('budget', args.budget, 1),
  maxRunMs: 1000 * count('max-run', args['max-run'], 1),
  profileRuns: count('profile', args.profile, 1),
  variants: !args['no-variants'],
};

function stamp(date = new Date()): string {
  return date.toISOString().slice(0, 19).replaceAll(':', '-');
}

async function saveJson(path: string, result: AdapterResult): Promise<void> {
  await mkdir(RESULTS, { recursive: true });
  await writeFile(path, `${JSON.stringify(result, null, 1)}\n`);
}

/** Rebuilds latest.md from every result file; prints it and returns it. */
async function writeReport(): Promise<string> {
  const files: AdapterResult[] = [];
  for (const name of existsSync(RESULTS) ? await readdir(RESULTS) : []) {
    if (!name.endsWith('.json')) continue;
    try {
      const parsed = JSON.parse(await readFile(join(RESULTS, name), 'utf8')) as AdapterResult;
      if (parsed.version === 1) files.push(parsed);
    } catch {
      console.error(`skipping unreadable ${name}`);
    }
  }
  if (files.length === 0) throw new Error('no results in bench/results yet: run npm run bench first');
  const markdown = renderMarkdown(mergeLatest(files));
  await writeFile(LATEST, markdown);
  console.log(`\n${markdown}\nwritten to ${LATEST}`);
  return markdown;
}

async function readme(): Promise<void> {
  const markdown = existsSync(LATEST) ? await readFile(LATEST, 'utf8') : await writeReport();
  console.log(await spliceReadme(join(ROOT, 'README.md'), markdown));
}

/** Runs this script again for one adapter, forwarding the options. */
function runChild(adapter: string, out: string): Promise<number> {
  const forwarded = process.argv.slice(2).filter((a, i, all) => !['--adapter', '--readme'].includes(a) && all[i - 1] !== '--adapter' && !a.startsWith('--adapter='));
  const node = [...process.execArgv, ...(args['liftoff-only'] ? ['--liftoff-only'] : [])];
  const child = spawn(process.execPath, [...node, process.argv[1]!, ...forwarded, '--child', '--adapter', adapter, '--out', out], {
    stdio: 'inherit',
    env: { ...process.env, VK_ICD_FILENAMES: Object.values(ADAPTER_ICDS).filter((p) => existsSync(p)).join(':') },
  });
  return new Promise((done) => child.on('exit', (code, signal) => done(code ?? (signal ? 128 : 1))));
}

async function main(): Promise<number> {
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const command = positionals[0];
  if (command === 'readme') return readme().then(() => 0);
  if (command === 'report') return writeReport().then(() => 0);
  if (command) throw new Error(`unknown command '${command}'\n${USAGE}`);
  const workloads = selectWorkloads(filters);
  const models = selectModelWorkloads(filters);
  if (args.list) {
    for (const w of WORKLOADS) console.log(`${w.name}  [${w.tags.join(', ')}]  ${(w.flops / 1e9).toFixed(3)} GFLOP, ${(w.bytes / 2 ** 20).toFixed(1)} MiB`);
    for (const w of MODEL_WORKLOADS) console.log(`${w.name}  [${w.tags.join(', ')}]  (whole model, Node only)`);
    return 0;
  }
  if (workloads.length === 0 && (models.length === 0 || args.browser)) throw new Error(`--only ${filters.join(',')} matches no workload (see --list)`);

  if (args.child) {
    const { runNode } = await import('./node');
    const out = resolve(args.out ?? join(RESULTS, `${args.adapter}-${stamp()}.json`));
    const log = (line: string) => console.log(`[${args.adapter}] ${line}`);
    const notes = args['liftoff-only'] ? [LIFTOFF_NOTE] : [];
    await runNode(workloads, models, { ...suite, adapter: args.adapter, peers, roofline: !args['no-roofline'], notes, save: (r) => saveJson(out, r) }, log);
    log(`results in ${out}`);
    return 0;
  }

  let failures = 0;
  if (args.browser) {
    const { runBrowser } = await import('./browser');
    const result = await runBrowser(workloads.map((w) => w.name), { ...suite, peers, roofline: !args['no-roofline'] }, (line) => console.log(`[chromium] ${line}`));
    await saveJson(join(RESULTS, `chromium-${result.adapter}-${stamp(new Date(result.date))}.json`), result);
  } else {
    const installed = Object.keys(ADAPTER_ICDS).filter((a) => existsSync(ADAPTER_ICDS[a]!));
    const adapters = args.adapter === 'all' ? installed : args.adapter.split(',');
    if (adapters.length === 0) throw new Error('no software Vulkan driver installed (lavapipe from bookworm-backports, or chromium for SwiftShader)');
    for (const adapter of adapters) {
      const code = await runChild(adapter, join(RESULTS, `${adapter}-${stamp()}.json`));
      if (code !== 0) {
        console.error(`[${adapter}] exited with code ${code}; results so far were kept`);
        failures += 1;
      }
    }
  }
  await writeReport();
  if (args.readme) await readme();
  return failures ? 1 : 0;
}

// Dawn keeps the process alive while a device exists: exit explicitly.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
