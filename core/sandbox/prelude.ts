// The in-isolate prelude. It runs before the module's code, captures the two host callbacks the
// sandbox process placed on the global object, deletes them, and builds the module's ctx from the
// API table. Everything crossing out is JSON text; errors coming back are rebuilt from {code,
// message}. No isolated-vm object is reachable from module code.
//
// The source is a plain string because it is evaluated inside the isolate, not in Node.

export const PRELUDE = String.raw`
(function () {
  "use strict";
  var notify = globalThis.__wardenNotify;
  var setup = JSON.parse(globalThis.__wardenSetup);
  delete globalThis.__wardenNotify;
  delete globalThis.__wardenSetup;

  var granted = new Set(setup.granted);
  var declared = new Set(setup.commands);
  var handlers = new Map();
  var subscriptions = new Map();
  var pending = new Map();
  var seq = 0;
  var MAX = setup.maxMessageBytes;
  var freeze = Object.freeze;

  function hostError(code, message, nonce) {
    var e = new Error(message);
    e.name = code === "capability_denied" ? "CapabilityError" : "HostError";
    e.code = code;
    if (nonce) Object.defineProperty(e, "__wardenNonce", { value: nonce, enumerable: false });
    return e;
  }

  function encode(value, what) {
    var text;
    try {
      text = JSON.stringify(value === undefined ? null : value, function (k, v) {
        var t = typeof v;
        if (t === "function" || t === "symbol" || t === "bigint") throw new TypeError(what + " holds a " + t + ", which cannot cross to the host");
        return v;
      });
    } catch (e) {
      throw hostError("input_invalid", what + " cannot be sent to the host: " + (e && e.message ? String(e.message) : "not JSON"));
    }
    if (text.length > MAX) throw hostError("input_invalid", what + " is " + text.length + " bytes, " + MAX + " allowed");
    return text;
  }

  // Every capability call goes to the host, granted or not: the host's check is the one that
  // counts, and its refusal comes back as a host-issued error the module may re-throw as it is.
  function call(method, capability, args) {
    var text = encode(args, method + " arguments");
    var rq = ++seq;
    return new Promise(function (resolve, reject) {
      pending.set(rq, { resolve: resolve, reject: reject });
      notify("cap", JSON.stringify([rq, method, text]));
    });
  }

  function settleCall(rq, reply) {
    var p = pending.get(rq);
    if (!p) return;
    pending.delete(rq);
    var r = JSON.parse(reply);
    if (r.e) p.reject(hostError(r.e.code, r.e.message, r.e.nonce));
    else p.resolve(r.v === null ? undefined : r.v);
  }

  function deny(capability) {
    notify("cap", JSON.stringify([0, capability === "log.write" ? "log.info" : capability, "[]"])); // the host audits the attempt
    return hostError("capability_denied", "module '" + setup.id + "' may not use capability '" + capability + "': it was not granted. Declare \"" + capability + "\" in its module.json capabilities and have an operator grant it.");
  }

  function namespace(ns, methods) {
    var out = {};
    Object.keys(methods).forEach(function (m) {
      out[m] = function () { return call(ns + "." + m, methods[m], Array.prototype.slice.call(arguments)); };
    });
    return freeze(out);
  }

  function dynamicNamespace(ns, capability) {
    return new Proxy(freeze({}), {
      get: function (_t, prop) {
        if (typeof prop !== "string" || prop === "then") return undefined;
        return function () { return call(ns + "." + prop, capability, Array.prototype.slice.call(arguments)); };
      },
    });
  }

  function logger(level) {
    return function (message, data) {
      if (!granted.has("log.write")) throw deny("log.write");
      var text;
      try { text = data === undefined ? undefined : encode(data, "log data"); } catch (e) { text = undefined; }
      notify("log", JSON.stringify([level, String(message).slice(0, 4096), text]));
    };
  }

  var api = setup.api;
  var ctx = {
    module: freeze({ id: setup.module.id, version: setup.module.version, kind: setup.module.kind }),
    commands: freeze({
      register: function (name, handler) {
        if (!granted.has("commands.register")) throw deny("commands.register");
        if (typeof handler !== "function") throw hostError("input_invalid", "commands.register('" + name + "'): handler must be a function");
        // The host decides: an undeclared name fails the activation with manifest_invalid.
        if (typeof name === "string" && declared.has(name)) handlers.set(name, handler);
        notify("register", String(name));
      },
      invoke: function (command, input) { return call("commands.invoke", "commands.invoke", [command, input === undefined ? {} : input]); },
      dispatch: function (c) { return call("commands.dispatch", "commands.dispatch", [c]); },
      catalogue: function () { return call("commands.catalogue", "commands.dispatch", []); },
    }),
    events: freeze({
      on: function (pattern, handler) {
        if (typeof handler !== "function") throw hostError("input_invalid", "events.on: handler must be a function");
        var id = null, cancelled = false;
        call("events.on", "events.subscribe", [pattern]).then(function (sub) {
          if (cancelled) return;
          id = sub;
          subscriptions.set(sub, handler);
        });
        return function () { cancelled = true; if (id) subscriptions.delete(id); };
      },
      emit: function (event, payload) { return call("events.emit", "events.emit", [event, payload === undefined ? null : payload]); },
    }),
    log: freeze({ debug: logger("debug"), info: logger("info"), warn: logger("warn"), error: logger("error") }),
    services: freeze({
      provide: function () { throw hostError("capability_denied", "only system modules may provide services"); },
      use: function () { throw hostError("capability_denied", "only system modules may use services"); },
    }),
  };
  Object.keys(api).forEach(function (ns) { ctx[ns] = namespace(ns, api[ns]); });
  Object.keys(setup.dynamic).forEach(function (ns) { ctx[ns] = dynamicNamespace(ns, setup.dynamic[ns]); });
  freeze(ctx);

  function describe(err) {
    try {
      if (err !== null && typeof err === "object") {
        var m = err.message, c = err.code, n = err.__wardenNonce;
        return {
          message: typeof m === "string" ? m.slice(0, 4000) : "module threw an object without a message",
          own: typeof c === "string" ? c.slice(0, 100) : undefined,
          nonce: typeof n === "string" ? n : undefined,
        };
      }
      return { message: String(err).slice(0, 4000) };
    } catch (e) {
      return { message: "module threw a value that cannot be described" };
    }
  }

  function settle(promise) {
    return Promise.resolve(promise).then(
      function (value) { return encode({ v: value === undefined ? null : value }, "the result"); },
      function (err) { return JSON.stringify({ e: describe(err) }); }
    ).catch(function (err) { return JSON.stringify({ e: describe(err) }); });
  }

  globalThis.__wardenRuntime = freeze({
    reply: settleCall,
    activate: function () {
      var mod = globalThis.__wardenModule;
      return settle((async function () {
        if (!mod || typeof mod.activate !== "function") throw new Error("the entry must export an activate(ctx) function");
        await mod.activate(ctx);
        return null;
      })());
    },
    dispatch: function (name, input, info) {
      return settle((async function () {
        var handler = handlers.get(name);
        if (!handler) throw hostError("module_unavailable", "module '" + setup.id + "' declares '" + name + "' but did not register a handler for it in activate()");
        return handler(JSON.parse(input), JSON.parse(info));
      })());
    },
    deliver: function (sub, event, payload) {
      var handler = subscriptions.get(sub);
      if (!handler) return;
      try {
        var r = handler(JSON.parse(payload), event);
        if (r && typeof r.catch === "function") r.catch(function () {});
      } catch (e) {}
    },
    deactivate: function () {
      var mod = globalThis.__wardenModule;
      return settle((async function () {
        if (mod && typeof mod.deactivate === "function") await mod.deactivate();
        return null;
      })());
    },
  });
})();
`;
