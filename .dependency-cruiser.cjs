/**
 * Import rules of tsad's architecture (see ../shared/STYLE.md and docs/architecture.md).
 * Checked by `npm run lint` and by test/unit/architecture.test.ts.
 */
const vendor = (names) => `^node_modules/(${names.join('|')})(/|$)`;
const NO_IO = ['rxjs', 'kafkajs', '@tensorflow', 'prom-client', 'influx', 'pino'];

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment:
        'Runtime import cycles; a type-only import back to a parent (command -> cli context) is fine.',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'detector-is-pure',
      comment: 'src/detector is pure domain code: no I/O, streams, tensors or metrics.',
      severity: 'error',
      from: { path: '^src/detector/' },
      to: {
        path: [vendor(NO_IO), '^src/(stream|model|adapters|app|cli|config)/'],
      },
    },
    {
      name: 'model-imports-tfjs-and-detector-only',
      severity: 'error',
      from: { path: '^src/model/' },
      to: {
        path: [
          vendor(['rxjs', 'kafkajs', 'prom-client', 'influx']),
          '^src/(stream|adapters|app|cli)/',
        ],
      },
    },
    {
      name: 'stream-uses-ports-not-adapters',
      severity: 'error',
      from: { path: '^src/stream/' },
      to: {
        path: [
          vendor(['kafkajs', '@tensorflow', 'prom-client', 'influx']),
          '^src/(adapters|app|cli|model)/',
        ],
      },
    },
    {
      name: 'adapter-never-imports-another-adapter',
      severity: 'error',
      from: { path: '^src/adapters/([^/]+)/' },
      to: { path: '^src/adapters/([^/]+)/', pathNot: '^src/adapters/$1/' },
    },
    {
      name: 'adapters-below-app-and-cli',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: '^src/(app|cli)/' },
    },
    {
      name: 'config-depends-on-nothing-of-ours',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/(detector|stream|model|adapters|app|cli)/' },
    },
    {
      name: 'app-below-cli',
      severity: 'error',
      from: { path: '^src/app/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'main-is-imported-by-nothing',
      severity: 'error',
      from: {},
      to: { path: '^src/main\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
