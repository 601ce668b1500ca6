// The in-isolate prelude: evaluated in a fresh isolate before the module's bundle, it is a function
// that the sandbox process calls once with two plain values, a bridge function (an ivm.Callback:
// arguments and results are copied) and the setup as JSON text. It keeps both in its closure and
// returns the runtime the sandbox process drives (activate, run, reply, deliver, deactivate);
// nothing of it is left on the global object, so module code can reach neither the bridge nor the
// runtime, only `ctx`.
//
// Rules kept here:
// - `bridge` is only ever called directly (never passed anywhere, never via .call/.apply, which a
//   module could patch), and only with strings and numbers.
// - Intrinsics are captured before module code runs, so a module patching JSON, Promise or Reflect
//   changes nothing about how the prelude encodes, decodes or reports.
// - Strict mode: stack-trace CallSites and `fn.caller` reveal no prelude function or receiver.
// - The context is generated from the host-API table's shape (setup.api), as the in-process one
//   is: a method whose capability is not granted returns a rejected promise (capability_denied)
//   and reports the attempt so the host audits it, exactly as in-process; the host checks every
//   call that does cross, which is the check that counts. commands.register throws at once (as
//   in-process); log calls never throw.
// - No WebAssembly: its memory escapes the isolate's limit.
// - Values cross as JSON text; functions, symbols, BigInt, cycles and oversized values are refused
//   with a message that says so.
//
// The source is a plain string because it is evaluated inside the isolate, not in Node.

export const PRELUDE = String.raw`(function (bridge, setupText) {
  "use strict";
  var stringify = JSON.stringify, parse = JSON.parse;
  var ErrorCtor = Error, TypeErrorCtor = TypeError, StringCtor = String, PromiseCtor = Promise;
  var reject = Promise.reject, resolveWith = Promise.resolve;
  var then = Promise.prototype.then, apply = Reflect.apply, slice = Array.prototype.slice;
  var freeze = Object.freeze, create = Object.create, defineProperty = Object.defineProperty, keys = Object.keys;
  var strSlice = String.prototype.slice;

  // WebAssembly memory lives outside the isolate's heap: isolated-vm neither counts it against
  // limits.memoryMb nor refuses it (a 16 MB module could commit gigabytes in the shared process).
  // Until it can be budgeted per isolate, the sandbox offers no WebAssembly at all.
  delete globalThis.WebAssembly;

  var setup = parse(setupText);
  var MAX = setup.maxMessageBytes;
  var moduleId = setup.id;
  var granted = dict(setup.granted);
  var bound = setup.bound;
  var declared = dict(setup.commands);
  var declaredList = setup.commands.join(", ") || "none";
  var handlers = create(null);
  var subscriptions = create(null);
  var pending = create(null);
  var seq = 0, denials = 0;
  var REPORTED_PER_ENTRY = 64, reported = 0, unreported = 0;
  var MAX_PENDING = setup.maxPending, pendingCount = 0, limited = 0;

  function endOfEntry() {
    if (unreported > 0 || limited > 0) bridge("denials", unreported, limited);
    unreported = 0;
    limited = 0;
    reported = 0;
  }
  var exportsOf = undefined;

  function dict(list) {
    var d = create(null);
    for (var i = 0; i < list.length; i++) d[list[i]] = true;
    return d;
  }

  function cut(s, n) { return s.length > n ? apply(strSlice, s, [0, n]) : s; }

  function hostError(code, message, nonce, name) {
    var e = new ErrorCtor(message);
    e.name = name || "HostError";
    e.code = code;
    if (nonce) defineProperty(e, "__wardenNonce", { value: nonce, enumerable: false });
    return e;
  }

  // Refusals are reported to the host one by one (it audits them) up to REPORTED_PER_ENTRY per
  // entry into the isolate; past that only counted, and the count sent once when the entry ends,
  // so a loop of refused calls costs the module's own time, not the host's.
  function deny(method, capability) {
    var nonce = "";
    if (reported < REPORTED_PER_ENTRY) {
      reported++;
      nonce = "d" + (++denials);
      bridge("deny", method, nonce);
    } else unreported++;
    return hostError("capability_denied",
      "module '" + moduleId + "' may not use capability '" + capability + "': it was not granted. " +
      "Declare \"" + capability + "\" in its module.json capabilities and have an operator grant it.", nonce, "CapabilityError");
  }

  function refuseValue(key, value) {
    var t = typeof value;
    if (t === "function" || t === "symbol" || t === "bigint") {
      throw new TypeErrorCtor("it holds a " + t + (key === "" ? "" : " at key '" + cut(StringCtor(key), 100) + "'") + "; only JSON data crosses (objects, arrays, strings, numbers, booleans, null)");
    }
    return value;
  }

  // JSON text for a value leaving the isolate; "" stands for undefined.
  function encode(value, what) {
    if (value === undefined) return "";
    var text;
    try {
      text = stringify(value, refuseValue);
    } catch (e) {
      var why = e !== null && typeof e === "object" && typeof e.message === "string" ? e.message : "it is not JSON data";
      if (/circular/i.test(why)) why = "it is cyclic (an object contains itself)";
      else if (/call stack/i.test(why)) why = "it is nested too deeply";
      throw hostError("input_invalid", what + " cannot cross to the host: " + cut(why, 300));
    }
    if (text === undefined) return "";
    if (text.length > MAX) throw hostError("payload_too_large", what + " is " + text.length + " characters of JSON; at most " + MAX + " bytes may cross");
    return text;
  }

  function describe(err) {
    try {
      if (err !== null && (typeof err === "object" || typeof err === "function")) {
        var m = err.message, c = err.code, n = err.__wardenNonce;
        return {
          message: typeof m === "string" ? cut(m, 4000) : "the module threw an object without a message",
          own: typeof c === "string" ? cut(c, 100) : "",
          nonce: typeof n === "string" ? cut(n, 100) : "",
        };
      }
      return { message: "the module threw a non-Error value: " + cut(StringCtor(err), 4000), own: "", nonce: "" };
    } catch (e) {
      return { message: "the module threw a value that cannot be described", own: "", nonce: "" };
    }
  }

  function succeed(rq, value, what) {
    endOfEntry();
    var text;
    try {
      text = encode(value, what);
    } catch (e) {
      return fail(rq, e);
    }
    bridge("done", rq, text);
  }

  function fail(rq, err) {
    endOfEntry();
    var d = describe(err);
    bridge("fail", rq, d.message, d.own, d.nonce);
  }

  // Runs fn and reports its (possibly asynchronous) outcome for request rq exactly once.
  // A plain value settles at once; a promise (an async handler's) is awaited with the captured
  // then, one job rather than the three a promise wrapped around it took. Either way the outcome
  // is reported within this entry, as before. Anything else thenable is adopted the standard way.
  function settle(rq, fn, what, discard) {
    var onValue = function (value) { succeed(rq, discard ? undefined : value, what); };
    var onError = function (err) { fail(rq, err); };
    var r;
    try {
      r = fn();
    } catch (e) {
      return onError(e);
    }
    if (r === null || (typeof r !== "object" && typeof r !== "function")) return onValue(r);
    try {
      apply(then, apply(resolveWith, PromiseCtor, [r]), [onValue, onError]);
    } catch (e) {
      onError(e); // a thenable whose constructor or species getter throws
    }
  }

  function rejected(err) { return apply(reject, PromiseCtor, [err]); }

  // A capability call: refused here without a round trip when not granted (the host still audits
  // it), checked again by the host when it crosses.
  function capabilityCall(method, capability, args) {
    if (!granted[capability]) return rejected(deny(method, capability));
    if (pendingCount >= MAX_PENDING) {
      limited++;
      return rejected(hostError("rate_limited", MAX_PENDING + " capability calls are already waiting on the host; await some before making more"));
    }
    var text;
    try {
      text = encode(args, method + " arguments");
    } catch (e) {
      return rejected(e);
    }
    var rq = ++seq;
    pendingCount++;
    return new PromiseCtor(function (resolve, reject) {
      pending[rq] = { resolve: resolve, reject: reject };
      bridge("cap", rq, method, text);
    });
  }

  function method(name, capability) {
    return function () { return capabilityCall(name, capability, apply(slice, arguments, [])); };
  }

  function namespace(ns, methods) {
    var out = {};
    var names = keys(methods);
    for (var i = 0; i < names.length; i++) out[names[i]] = method(ns + "." + names[i], methods[names[i]]);
    return freeze(out);
  }

  function logger(level) {
    return function (message, data) {
      if (!granted[bound["log." + level]]) { deny("log." + level, bound["log." + level]); return; }
      var text = "";
      try { text = encode(data, "log data"); } catch (e) { text = ""; }
      if (text.length > 16384) text = "";
      bridge("log", level, cut(StringCtor(message), 4096), text);
    };
  }

  function methods(ns) {
    var out = {};
    var shape = setup.api[ns];
    if (shape === undefined) return out;
    var names = keys(shape);
    for (var i = 0; i < names.length; i++) out[names[i]] = method(ns + "." + names[i], shape[names[i]]);
    return out;
  }

  var ctx = {};
  var spaces = keys(setup.api);
  for (var i = 0; i < spaces.length; i++) ctx[spaces[i]] = freeze(methods(spaces[i]));

  var commands = methods("commands");
  commands.register = function (name, handler) {
    if (!granted[bound["commands.register"]]) throw deny("commands.register", bound["commands.register"]);
    var n = typeof name === "string" ? name : StringCtor(name);
    if (typeof handler !== "function") throw hostError("input_invalid", "commands.register('" + cut(n, 100) + "'): the handler must be a function");
    // The host decides; a name it refuses fails the activation even if this throw is caught.
    bridge("register", n);
    if (!declared[n]) {
      throw hostError("command_not_declared", "module '" + moduleId + "' tried to register command '" + cut(n, 100) +
        "', which its module.json does not declare; declare it under \"commands\" (declared: " + declaredList + ")");
    }
    handlers[n] = handler;
  };
  ctx.commands = freeze(commands);

  var events = methods("events");
  events.on = function (pattern, handler) {
    if (typeof handler !== "function") return rejected(hostError("input_invalid", "events.on: the handler must be a function"));
    var state = { cancelled: false };
    return apply(then, capabilityCall("events.on", bound["events.on"], [pattern]), [function (sub) {
      if (typeof sub === "string") subscriptions[sub] = handler;
      return function unsubscribe() {
        if (state.cancelled) return;
        state.cancelled = true;
        if (typeof sub === "string") delete subscriptions[sub];
      };
    }]);
  };
  ctx.events = freeze(events);

  // config.watch: the settings now, and again after each change to them, one apply at a time (the
  // host delivers a change to the watch's subscription id, as it does an event).
  var config = methods("config");
  var readSettings = config.get;
  var ignore = function () {};
  config.watch = function (fn) {
    if (typeof fn !== "function") return rejected(hostError("input_invalid", "config.watch: the argument must be a function that applies the settings"));
    var state = { stopped: false, queue: PromiseCtor.resolve(), sub: undefined };
    var again = function () {
      var next = apply(then, state.queue, [function () {
        if (state.stopped) return undefined;
        return apply(then, readSettings(), [function (settings) { return state.stopped ? undefined : fn(settings); }]);
      }]);
      state.queue = apply(then, next, [undefined, ignore]);
      return next;
    };
    var unwatch = function () {
      state.stopped = true;
      if (typeof state.sub === "string") delete subscriptions[state.sub];
    };
    return apply(then, capabilityCall("config.watch", bound["config.watch"], []), [function (sub) {
      state.sub = sub;
      if (typeof sub === "string") subscriptions[sub] = function () { again(); };
      return apply(then, again(), [function () { return unwatch; }, function (e) { unwatch(); throw e; }]);
    }]);
  };
  ctx.config = freeze(config);

  ctx.log = freeze({ debug: logger("debug"), info: logger("info"), warn: logger("warn"), error: logger("error") });
  ctx.module = freeze({ id: setup.module.id, version: setup.module.version, kind: setup.module.kind });
  ctx.services = freeze({
    provide: function () { throw hostError("capability_denied", "only system modules may provide services"); },
    use: function () { throw hostError("capability_denied", "only system modules may use services"); },
    host: function () { throw hostError("capability_denied", "only system modules may use services"); },
  });
  freeze(ctx);

  function reply(rq, ok, text, code, message, nonce) {
    endOfEntry();
    var p = pending[rq];
    if (p === undefined) return;
    delete pending[rq];
    pendingCount--;
    if (!ok) return p.reject(hostError(code, message, nonce, code === "capability_denied" ? "CapabilityError" : "HostError"));
    var value;
    try {
      value = text === "" ? undefined : parse(text);
    } catch (e) {
      return p.reject(hostError("internal", "the host's reply could not be read"));
    }
    p.resolve(value);
  }

  function dispatch(rq, name, inputText, infoText) {
    endOfEntry();
    var handler = handlers[name];
    settle(rq, function () {
      if (handler === undefined) throw hostError("module_unavailable", "module '" + moduleId + "' did not register a handler for '" + name + "' in activate()");
      return handler(inputText === "" ? undefined : parse(inputText), parse(infoText));
    }, "the result of " + name, false);
  }

  return freeze({
    activate: function (rq) {
      endOfEntry();
      // The bundle left its exports on a global; take them (a top-level var cannot be deleted).
      exportsOf = globalThis.__wardenModule;
      globalThis.__wardenModule = undefined;
      var mod = exportsOf;
      // A default export (defineModule({ activate, deactivate })) as well as named exports.
      if (mod !== null && typeof mod === "object" && typeof mod.activate !== "function" && mod.default !== null && typeof mod.default === "object") mod = exportsOf = mod.default;
      settle(rq, function () {
        if (mod === null || typeof mod !== "object" || typeof mod.activate !== "function") {
          throw new ErrorCtor("the entry must export an activate(ctx) function");
        }
        return mod.activate(ctx);
      }, "activate", true);
    },
    // What arrived together for this module, in one entry (the sandbox process batches it). Six
    // primitives per item: (0, rq, name, inputText, infoText, "") is a call, (1, rq, text, "", "",
    // "") a capability reply, (2, rq, code, message, nonce, "") a capability refusal.
    run: function () {
      for (var i = 0; i + 5 < arguments.length; i += 6) {
        var k = arguments[i];
        if (k === 0) dispatch(arguments[i + 1], arguments[i + 2], arguments[i + 3], arguments[i + 4]);
        else if (k === 1) reply(arguments[i + 1], true, arguments[i + 2], "", "", "");
        else reply(arguments[i + 1], false, "", arguments[i + 2], arguments[i + 3], arguments[i + 4]);
      }
    },
    reply: reply,
    deliver: function (sub, event, payloadText) {
      endOfEntry();
      var handler = subscriptions[sub];
      if (handler === undefined) return;
      try {
        var r = handler(payloadText === "" ? null : parse(payloadText), event);
        if (r !== null && typeof r === "object" && typeof r.then === "function") apply(then, PromiseCtor.resolve(r), [undefined, function () {}]);
      } catch (e) {
        // A subscriber's failure is its own; the emitter never hears of it.
      }
    },
    deactivate: function (rq) {
      endOfEntry();
      var mod = exportsOf;
      settle(rq, function () {
        if (mod !== null && typeof mod === "object" && typeof mod.deactivate === "function") return mod.deactivate();
      }, "deactivate", true);
    },
  });
})`;
