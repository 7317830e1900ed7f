import { lazySecrets } from "../../nodes/channels/runtime.server";
import { createExtensionSecretStore, type ExtensionSecretStore } from "../../nodes/extension/secrets.server";
import type { AppServices } from "../services.server";

const stores = new WeakMap<AppServices, ExtensionSecretStore>();

/** The workspace secrets of extension nodes, built on first use (no key file is read before). */
export function extensionSecretsOf(services: AppServices): ExtensionSecretStore {
  let store = stores.get(services);
  if (!store) {
    const secrets = lazySecrets(services.config);
    store = createExtensionSecretStore({ db: services.db, key: secrets.key });
    stores.set(services, store);
  }
  return store;
}
