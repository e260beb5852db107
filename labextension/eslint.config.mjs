// Lint config (ESLint 9 flat config, typescript-eslint type-aware rules).
// Log text and server data reach the page only as text: the rules below forbid the DOM
// APIs that parse markup, so "markup in a log line never executes" holds by construction.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const noMarkup = [
  { property: 'innerHTML', message: 'Use textContent (server and log text must stay inert).' },
  { property: 'outerHTML', message: 'Use textContent (server and log text must stay inert).' },
  {
    property: 'insertAdjacentHTML',
    message: 'Build nodes with dom.ts (server and log text must stay inert).'
  },
  { property: 'createContextualFragment', message: 'No markup parsing.' },
  { object: 'document', property: 'write', message: 'No markup parsing.' }
];

export default tseslint.config(
  { ignores: ['lib/', 'node_modules/', 'teamhub/', 'coverage/', '**/*.js', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.browser },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    rules: {
      'no-restricted-properties': ['error', ...noMarkup],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.name='eval']", message: 'No eval.' },
        { selector: "NewExpression[callee.name='Function']", message: 'No new Function.' },
        { selector: "NewExpression[callee.name='DOMParser']", message: 'No markup parsing.' }
      ],
      eqeqeq: ['error', 'smart'],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      // Lumino's signal.connect(this.method, this) passes `this` explicitly.
      '@typescript-eslint/unbound-method': 'off'
    }
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off'
    }
  },
  {
    files: ['*.mjs', 'scripts/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked
  },
  {
    files: ['*.mjs', 'scripts/**/*.mjs'],
    languageOptions: { globals: { ...globals.node } }
  }
);
