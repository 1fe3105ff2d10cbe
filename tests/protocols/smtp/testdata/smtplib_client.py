"""Sends messages to an SMTP server with Python's smtplib, as a real peer.

usage: smtplib_client.py PORT MODE [CAFILE]
MODE: plain (EHLO, check PIPELINING, two recipients, dot lines),
      starttls_auth (STARTTLS verified with CAFILE, AUTH, send),
      bad_auth (STARTTLS, AUTH with a wrong password: expects 535),
      auth_before_tls (AUTH without TLS: expects 538 or no AUTH offered),
      raw_pipeline (two transactions and QUIT in one write: prints codes).
Prints one line: OK, or what went wrong.
"""
import smtplib
import ssl
import sys

port = int(sys.argv[1])
mode = sys.argv[2]
body = ("Subject: from smtplib\r\n\r\nfirst line\r\n.starts with a dot\r\n"
        ".\r\nlast line\r\n")

s = smtplib.SMTP("127.0.0.1", port, timeout=20)
code, _ = s.ehlo("smtplib.test")
assert code == 250, code
if mode == "plain":
    assert s.has_extn("pipelining"), s.esmtp_features
    assert s.has_extn("size"), s.esmtp_features
    refused = s.sendmail("a@x.test", ["b@y.test", "c@y.test"], body)
    assert refused == {}, refused
    print("OK")
elif mode in ("starttls_auth", "bad_auth"):
    context = ssl.create_default_context(cafile=sys.argv[3])
    code, _ = s.starttls(context=context)
    assert code == 220, code
    s.ehlo("smtplib.test")
    assert s.has_extn("auth"), s.esmtp_features
    try:
        s.login("user", "secret" if mode == "starttls_auth" else "wrong")
    except smtplib.SMTPAuthenticationError as e:
        print("AUTH %d" % e.smtp_code)
        sys.exit(0)
    s.sendmail("tls@x.test", ["b@y.test"], body)
    print("OK")
elif mode == "raw_pipeline":
    # Two whole transactions and QUIT in one write, replies read after.
    s.send("MAIL FROM:<p@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n"
           "one\r\n..two\r\n.\r\n"
           "MAIL FROM:<>\r\nRCPT TO:<c@y.test>\r\nDATA\r\nthree\r\n.\r\n"
           "QUIT\r\n")
    print(" ".join(str(s.getreply()[0]) for _ in range(9)))
    sys.exit(0)
elif mode == "auth_before_tls":
    assert not s.has_extn("auth"), s.esmtp_features
    code, _ = s.docmd("AUTH", "PLAIN AHVzZXIAc2VjcmV0")
    print("AUTH %d" % code)
s.quit()
