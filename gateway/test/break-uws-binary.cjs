// Preloaded by a test: make every native addon named uws_* fail to load, as it
// would on a machine whose glibc or Node ABI the binary does not fit.
const Module = require("module");
const load = Module._extensions[".node"];
Module._extensions[".node"] = function (module, filename) {
  if (/uws_[^/]*\.node$/.test(filename)) throw new Error(`simulated: ${filename} does not load here`);
  return load.call(this, module, filename);
};
