/** Shell scripts are bundled as text (esbuild `loader: { '.sh': 'text' }`; jest: test/text-transform.js). */
declare module '*.sh' {
  const text: string;
  export default text;
}
