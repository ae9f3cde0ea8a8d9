import type { AddressInfo } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

/** A message the test server accepted, as parsed back, with the moment it answered 250. */
export interface ReceivedMail {
  readonly parsed: ParsedMail;
  readonly raw: Buffer;
  /** Envelope recipients (RCPT TO). */
  readonly recipients: readonly string[];
  readonly acceptedAt: number;
  readonly to: string;
  readonly subject: string;
  readonly messageId: string;
  readonly header: (name: string) => string | undefined;
}

export interface SmtpTestServer {
  readonly url: string;
  readonly received: ReceivedMail[];
  /** The next `count` messages are refused at the end of DATA with a temporary error (451). */
  refuseNext(count: number): void;
  /** Messages refused so far. */
  refused(): number;
  close(): Promise<void>;
}

/**
 * A real SMTP server in the test process (smtp-server, the library Nodemailer's author maintains),
 * on a free port, plain text and no authentication, that keeps what it accepts, parsed with
 * mailparser. A message counts as received when the server is about to answer 250 to its data:
 * the moment a real mail server takes responsibility for it.
 */
export async function startSmtpTestServer(
  options: {
    /**
     * How long the server takes to answer each MAIL FROM: a slow server, whose slowness comes
     * before it has the message (a client that dies meanwhile has sent nothing).
     */
    mailFromDelayMs?: number;
  } = {},
): Promise<SmtpTestServer> {
  const received: ReceivedMail[] = [];
  let toRefuse = 0;
  let refusedCount = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onMailFrom(_address, _session, callback) {
      setTimeout(() => callback(), options.mailFromDelayMs ?? 0);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        if (toRefuse > 0) {
          toRefuse--;
          refusedCount++;
          const error = new Error("try again later") as Error & { responseCode: number };
          error.responseCode = 451;
          callback(error);
          return;
        }
        const raw = Buffer.concat(chunks);
        simpleParser(raw)
          .then((parsed) => {
            const header = (name: string) => {
              const value = parsed.headers.get(name.toLowerCase());
              return value === undefined ? undefined : String(value);
            };
            received.push({
              parsed,
              raw,
              recipients: session.envelope.rcptTo.map((rcpt) => rcpt.address),
              acceptedAt: Date.now(),
              to: parsed.to && !Array.isArray(parsed.to) ? parsed.to.text : "",
              subject: parsed.subject ?? "",
              messageId: parsed.messageId ?? "",
              header,
            });
            callback();
          })
          .catch((error: Error) => callback(error));
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  // A client's connection failing (a sender killed with kill -9 mid-message resets it) is the
  // client's business, as on a real mail server: without a listener it would crash the test run.
  server.on("error", () => {});
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    refuseNext(count) {
      toRefuse = count;
    },
    refused: () => refusedCount,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
