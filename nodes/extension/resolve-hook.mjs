// Module resolve hook installed by the extension loader (loader.server.ts): an extension's
// `import ... from "waypost/extension"` binds to the API of the Waypost that loads it, wherever
// the extension lives, like a peer dependency that is always satisfied by the host.
let targets = {};

export function initialize(data) {
  targets = data.targets;
}

export async function resolve(specifier, context, next) {
  const target = targets[specifier];
  if (target) return { url: target, format: "module", shortCircuit: true };
  return next(specifier, context);
}
