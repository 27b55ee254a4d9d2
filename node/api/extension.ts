/**
 * The browser extension's API (`ExtensionApi`): pairing codes for the owner, the pairing itself,
 * and what an extension token may do. Maps the `extension` service's records to views.
 */
import type { ExtensionApi } from "../../protocol/api/extension.ts";
import type { Extension } from "../services/extension/mod.ts";

export interface ExtensionApiComponents {
  extension: Extension;
}

export function createExtensionApi(c: ExtensionApiComponents): ExtensionApi {
  const { extension } = c;
  return {
    createExtensionPairing(options = {}) {
      options.signal?.throwIfAborted();
      return Promise.resolve(extension.createPairing());
    },
    pairExtension(code, options) {
      options.signal?.throwIfAborted();
      const { token } = extension.pair(code, { caller: options.caller });
      return Promise.resolve({ token });
    },
    verifyExtensionToken(token, options = {}) {
      options.signal?.throwIfAborted();
      extension.authenticate(token);
      return Promise.resolve();
    },
    getExtensionStatus(token, options = {}) {
      return extension.status(token, options);
    },
    async postExtensionVisits(token, visits, options = {}) {
      const source = await extension.receiveVisits(token, visits, options);
      return { sourceId: source.id, rows: source.rows };
    },
    listExtensionTokens(options = {}) {
      options.signal?.throwIfAborted();
      return Promise.resolve({ tokens: extension.listTokens() });
    },
    revokeExtensionToken(id, options = {}) {
      options.signal?.throwIfAborted();
      extension.revokeToken(id);
      return Promise.resolve();
    },
  };
}
