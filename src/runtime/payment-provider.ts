import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadOrCreateSecret } from "../platform/auth/secret-file.js";
import type { Config } from "../platform/config/load-config.js";
import type { PaymentProvider } from "../platform/payments/payment-provider.js";
import { ProviderUnavailableError } from "../platform/payments/payment-provider.js";
import { SIMULATOR_ADDRESS_FILE } from "../platform/payments/simulator/simulator-server.js";
import { SimulatorPaymentProvider } from "../platform/payments/simulator-payment-provider.js";
import { dataDirOf } from "./platform.js";

/** The bundled simulator keeps its state and publishes its address here, inside the data dir. */
export function simulatorDirOf(config: Config): string {
  return join(dataDirOf(config), "payment-simulator");
}

/**
 * The secret payment notifications are signed with: FLOODGATE_PAYMENT_WEBHOOK_SECRET, else one
 * generated once into the data dir, which the bundled simulator and every Floodgate process on
 * that data dir read alike.
 */
export function paymentWebhookSecretOf(config: Config): string {
  return config.paymentWebhookSecret ?? loadOrCreateSecret(dataDirOf(config), "payment-webhook-secret");
}

/**
 * The PaymentProvider adapter for this configuration: the simulator's API at
 * FLOODGATE_PAYMENT_PROVIDER_URL, else at the address the bundled simulator published in the data
 * dir (read on each call: it may have started after this process, or moved).
 */
export function openPaymentProvider(config: Config): PaymentProvider {
  const configured = config.paymentProviderUrl?.replace(/\/+$/, "");
  const addressFile = join(simulatorDirOf(config), SIMULATOR_ADDRESS_FILE);
  const baseUrl = () => {
    if (configured) return configured;
    try {
      return readFileSync(addressFile, "utf8").trim();
    } catch {
      throw new ProviderUnavailableError(
        `FLOODGATE_PAYMENT_PROVIDER_URL is unset and no bundled payment simulator has published its address at ${addressFile}: run \`floodgate start\` or \`floodgate payment-simulator\` on this data dir, or set the URL.`,
      );
    }
  };
  return new SimulatorPaymentProvider({ baseUrl, webhookSecret: paymentWebhookSecretOf(config) });
}
