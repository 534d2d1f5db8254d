/** What names a tuned-kernel bundle (kernels/README.md); Node-free, so the browser loader tells one apart too. */
export const BUNDLE_FORMAT = 'crinn-kernel-bundle';
export const BUNDLE_VERSION = 1;
