import { mkdir, open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import nodemailer from "nodemailer";
import { composeMail } from "./mail-composition.js";
import { isMailId, type Mailer, type MailMessage } from "./mailer.js";

/**
 * The built-in mail catcher: each message is written, exactly as it would go over SMTP, to
 * `<dir>/<id>.eml`. The file is written beside its final name, fsync'd and renamed, so a reader
 * sees a whole message or none; sending the same email again replaces its file with the same
 * bytes, so the catcher holds one message per email however often it is sent.
 */
export function openEmlFileMailer(dir: string): Mailer {
  // Builds the RFC 5322 message in memory; CRLF line ends, as on the wire and in .eml files.
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "windows" });
  const pathOf = (id: string) => {
    if (!isMailId(id)) throw new Error(`not a mail id: ${id}`);
    return join(dir, `${id}.eml`);
  };
  let created: Promise<unknown> | undefined;
  return {
    kind: "catcher",
    async send(message: MailMessage) {
      const path = pathOf(message.id);
      created ??= mkdir(dir, { recursive: true });
      await created;
      const info = await composer.sendMail(composeMail(message));
      const raw = info.message as Buffer;
      const partial = `${path}.partial`;
      const file = await open(partial, "w");
      try {
        await file.writeFile(raw);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(partial, path);
    },
    async kept(id: string) {
      if (!isMailId(id)) return undefined;
      try {
        return await readFile(pathOf(id));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },
    async close() {
      composer.close();
    },
  };
}
