// Preloaded into node (`node --import loopback.mjs server.js`) so that a server that
// listens on every interface (npm's server-everything does: `app.listen(PORT)`) listens
// on 127.0.0.1 only. Every TCP listen goes through net.Server.prototype.listen, which
// http.Server and express inherit: the host it is given, or the one it lacks, becomes
// 127.0.0.1. Unix sockets and inherited handles are left alone. The tests check the
// listening address in /proc/net/tcp{,6} all the same.
import net from "node:net";

const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (first !== null && typeof first === "object" && "port" in first) {
    args[0] = { ...first, host: "127.0.0.1" };
  } else if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, callback])
    if (typeof args[1] === "string") {
      args[1] = "127.0.0.1";
    } else {
      args.splice(1, 0, "127.0.0.1");
    }
  } else if (first === undefined || typeof first === "function") {
    // listen([callback]): a random port on every interface
    args.unshift(0, "127.0.0.1");
  }
  return listen.apply(this, args);
};
