// wgsl_reflect's `main` is CommonJS inside a `"type": "module"` package, so Node can only load its ES build.
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
