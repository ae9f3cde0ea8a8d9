import { renewingServiceToken, type TokenService } from "../platform/auth/tokens.js";
import type { Config } from "../platform/config/load-config.js";
import { ConfigError } from "../platform/config/load-config.js";
import type { ServiceName } from "../platform/config/settings.js";
import { createHttpClient, type HttpClientHandle, type Operations } from "../platform/http/service-client.js";
import type { ServiceClients } from "../services/service-module.js";
import { serviceModule } from "./service-registry.js";

/**
 * Builds the clients services use to reach each other. A service hosted in this process is called
 * directly (its operations object, once it has started); any other one over HTTP at the URL that
 * FLOODGATE_SERVICE_URLS gives for it — on FLOODGATE_INTERNAL_PORT of that host when the port is set.
 */
export function createServiceClients(
  config: Config,
  tokens: TokenService,
  localApis: ReadonlyMap<ServiceName, Operations>,
): { clients: ServiceClients; close(): Promise<void> } {
  const remote: HttpClientHandle[] = [];
  const serviceToken = renewingServiceToken(tokens);
  const resolve = (name: ServiceName): Operations => {
    if (config.services.includes(name)) {
      // Resolved on each call: the service may start after the one holding this client.
      const module = serviceModule(name);
      const local: Record<string, unknown> = {};
      for (const operation of module.operations) {
        local[operation] = (input: unknown) => {
          const api = localApis.get(name);
          if (!api) throw new Error(`service ${name} is hosted here but has not started yet`);
          return api[operation]!(input);
        };
      }
      return local as Operations;
    }
    const publicUrls = config.serviceUrls.get(name);
    const baseUrl =
      config.internalServiceUrls.get(name) ??
      (publicUrls === undefined ? undefined : internalApiUrls(publicUrls, config.internalPort));
    if (!baseUrl) {
      throw new ConfigError(
        `This process does not host the ${name} service and FLOODGATE_SERVICE_URLS names no URL for it ` +
          `(add ${name}=http://host:port, or host it here with FLOODGATE_SERVICES).`,
      );
    }
    const client = createHttpClient(name, serviceModule(name).operations, {
      baseUrl,
      token: serviceToken,
    });
    remote.push(client);
    return client as unknown as Operations;
  };
  const cache = new Map<ServiceName, Operations>();
  const lazily = (name: ServiceName): Operations => {
    let client = cache.get(name);
    if (!client) {
      client = resolve(name);
      cache.set(name, client);
    }
    return client;
  };
  const clients = {
    get catalog() {
      return lazily("catalog");
    },
    get inventory() {
      return lazily("inventory");
    },
    get sales() {
      return lazily("sales");
    },
    get orders() {
      return lazily("orders");
    },
    get payments() {
      return lazily("payments");
    },
    get fulfillment() {
      return lazily("fulfillment");
    },
    get notifications() {
      return lazily("notifications");
    },
    get loyalty() {
      return lazily("loyalty");
    },
  } as unknown as ServiceClients;
  return { clients, close: async () => void (await Promise.all(remote.map((client) => client.close()))) };
}

/**
 * Where another service's internal API is: FLOODGATE_SERVICE_URLS names its instances (the same
 * addresses the gateway proxies public routes to), and with an internal port set, every process of
 * a deployment serves its internal API on that same port of its host. One port for the whole
 * deployment keeps a second map of URLs out of the configuration.
 */
export function internalApiUrls(serviceUrls: string, internalPort: number | undefined): string {
  if (internalPort === undefined) return serviceUrls;
  return serviceUrls
    .split("|")
    .map((instance) => {
      const url = new URL(instance);
      url.port = String(internalPort);
      return url.toString().replace(/\/$/, "");
    })
    .join("|");
}
