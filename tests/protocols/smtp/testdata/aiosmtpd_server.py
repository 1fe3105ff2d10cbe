"""An aiosmtpd server on 127.0.0.1, a port the OS picks, as a real peer.

usage: aiosmtpd_server.py [CERT KEY]  (with them: STARTTLS offered)
Prints "port N" once listening, then one line per message received:
"message FROM TO1,TO2 LENGTH TLS" followed by the content's repr.
"""
import asyncio
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Handler:
    async def handle_DATA(self, server, session, envelope):
        tls = "tls" if session.ssl is not None else "plain"
        content = envelope.original_content
        print("message %s %s %d %s %r" % (envelope.mail_from,
                                          ",".join(envelope.rcpt_tos),
                                          len(content), tls, content),
              flush=True)
        return "250 2.0.0 Accepted"


async def main():
    context = None
    if len(sys.argv) == 3:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[1], sys.argv[2])
    loop = asyncio.get_running_loop()
    handler = Handler()
    server = await loop.create_server(
        lambda: SMTP(handler, tls_context=context, hostname="aiosmtpd.test"),
        "127.0.0.1", 0)
    print("port %d" % server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
