/**
 * Node flags that preload exit-with-parent.js: a foreground child (`ash serve`, `ash runner`)
 * stops itself once the `ash` process that started it is gone, even after a SIGKILL of it.
 */
export const EXIT_WITH_PARENT = ['--import', new URL('./exit-with-parent.js', import.meta.url).href];
