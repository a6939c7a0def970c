// ESLint for the TypeScript sources, type-aware (the project's tsconfig.json).
// `npm run lint` runs it, and `npm test` runs that before the suite.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Workflow code runs in Temporal's deterministic sandbox: no Node built-ins
// (Temporal's samples allow only `assert`), and activity implementations only
// as types, through the proxies.
const allowedBuiltinsInWorkflows = new Set(['assert']);
const nodeBuiltins = builtinModules
  .filter((name) => !name.startsWith('_') && !allowedBuiltinsInWorkflows.has(name))
  .flatMap((name) => [name, `node:${name}`]);

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      '.tools/**',
      'dist/**',
      'evidence/**',
      '.sentinel/**',
      'scratch/**',
      'bin/**',
      'eslint.config.mjs',
    ],
  },
  {
    files: ['src/**/*.ts', 'dev/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // A promise nobody awaits loses its failure: await it, or mark it `void` where fire-and-forget is meant.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      // Activities and handlers are async by contract even when a body has nothing to await.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests and benchmarks read JSON and YAML documents as `any` on purpose (`type Json`).
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Tests hand activity functions to the mock environment unbound, as the worker does.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // What ships (src/, built into the image) never loads the dev-only code: the dev stack, the
    // reference control plane and the simulated hosts live under dev/ (README, "Layout").
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/dev', '**/dev/**'],
              message:
                'src/ ships in the image; dev/ (dev stack, reference control plane, simulated hosts) does not.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message:
              'Workflow code runs in the deterministic sandbox: no Node built-ins (use Temporal APIs, or an activity).',
          })),
          patterns: [
            {
              // Worker, client and activity SDK packages do not load in the sandbox either.
              group: [
                '@temporalio/activity',
                '@temporalio/client',
                '@temporalio/worker',
                '@temporalio/testing',
              ],
              allowTypeImports: true,
              message:
                'Workflow code imports @temporalio/workflow and @temporalio/common; others only as `import type`.',
            },
            {
              group: ['**/activities', '**/activities/**'],
              allowTypeImports: true,
              message:
                'Workflows call activities through proxyActivities: import activity code only as `import type`.',
            },
          ],
        },
      ],
    },
  },
);
