import { ConfigError } from "../platform/config/load-config.js";

/**
 * The instances of each service as FLOODGATE_SERVICE_URLS lists them: `name=url` pairs, a service
 * with several instances separating them with `|` (`orders=http://a:8081|http://b:8081`).
 */
export function serviceInstances(serviceUrls: ReadonlyMap<string, string>): Map<string, string[]> {
  const instances = new Map<string, string[]>();
  for (const [service, value] of serviceUrls) {
    const urls = value
      .split("|")
      .map((url) => url.trim())
      .filter((url) => url.length > 0);
    for (const url of urls) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new ConfigError(`FLOODGATE_SERVICE_URLS: "${url}" (service ${service}) is not a URL.`);
      }
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
        throw new ConfigError(
          `FLOODGATE_SERVICE_URLS: "${url}" (service ${service}) must be http:// or https://.`,
        );
      }
      if (parsed.pathname !== "/" || parsed.search !== "") {
        throw new ConfigError(
          `FLOODGATE_SERVICE_URLS: "${url}" (service ${service}) must be an origin (scheme, host, port) without a path.`,
        );
      }
    }
    if (urls.length === 0) throw new ConfigError(`FLOODGATE_SERVICE_URLS: service ${service} lists no URL.`);
    instances.set(
      service,
      urls.map((url) => new URL(url).origin),
    );
  }
  return instances;
}
