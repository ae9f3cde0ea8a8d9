import type { Config } from "../platform/config/load-config.js";
import {
  type RunningPaymentSimulator,
  startPaymentSimulator,
} from "../platform/payments/simulator/simulator-server.js";
import { paymentWebhookSecretOf, simulatorDirOf } from "./payment-provider.js";

/**
 * Whether `floodgate start` runs the simulator beside the services: only when this process hosts
 * the payments service and no provider is configured. With FLOODGATE_PAYMENT_PROVIDER_URL set,
 * payments go to that provider and nothing is simulated.
 */
export function bundlesPaymentSimulator(config: Config): boolean {
  return config.services.includes("payments") && config.paymentProviderUrl === undefined;
}

/**
 * The payment simulator on this configuration's data dir: its state and its published address in
 * `<data dir>/payment-simulator/`, its notifications signed with the data dir's webhook secret.
 * `floodgate start` runs it inside the Floodgate process, on a port of its own (the one it had
 * last time, else a free one): the payments service still reaches it only over HTTP, as it would
 * a real provider.
 */
export function startDataDirPaymentSimulator(
  config: Config,
  port?: number,
): Promise<RunningPaymentSimulator> {
  return startPaymentSimulator({
    secret: paymentWebhookSecretOf(config),
    host: config.host,
    stateDir: simulatorDirOf(config),
    ...(port !== undefined ? { port } : {}),
  });
}
