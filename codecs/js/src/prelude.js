// lorafield's prelude, run in every script context before the codec's script. It hides the
// host's time zone (local-time Date methods behave as UTC), gives the context a clock lorafield
// controls, replaces Math.random by a generator lorafield seeds, and returns the host-side
// helpers as an object that only lorafield holds (nothing of it is reachable from the script).
(function (global, log) {
  "use strict";
  var RealDate = global.Date;
  var proto = RealDate.prototype;
  // The engine's own offset for the host's zone, read before it is replaced below.
  var realOffset = proto.getTimezoneOffset;
  var define = function (obj, name, value) {
    Object.defineProperty(obj, name, {
      value: value,
      writable: true,
      enumerable: false,
      configurable: true,
    });
  };

  // --- The clock: the host's, or a fixed instant (the uplink's receive time). -------------
  var fixedNow = null;
  var realNow = RealDate.now;
  var now = function () {
    return fixedNow === null ? realNow() : fixedNow;
  };

  // --- Local time is UTC. --------------------------------------------------------------
  var names = [
    "FullYear", "Month", "Date", "Day", "Hours", "Minutes", "Seconds", "Milliseconds",
  ];
  names.forEach(function (n) {
    define(proto, "get" + n, proto["getUTC" + n]);
    if (n !== "Day") define(proto, "set" + n, proto["setUTC" + n]);
  });
  if (proto.getYear) {
    define(proto, "getYear", function getYear() {
      return this.getUTCFullYear() - 1900;
    });
    define(proto, "setYear", function setYear(y) {
      y = +y;
      return this.setUTCFullYear(y >= 0 && y <= 99 ? 1900 + y : y);
    });
  }
  define(proto, "getTimezoneOffset", function getTimezoneOffset() {
    return isNaN(this.getTime()) ? NaN : 0;
  });
  var days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  var months = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
  ];
  var pad = function (n, w) {
    var s = String(Math.abs(n));
    while (s.length < w) s = "0" + s;
    return (n < 0 ? "-" : "") + s;
  };
  var dateText = function (d) {
    var y = d.getUTCFullYear();
    return days[d.getUTCDay()] + " " + months[d.getUTCMonth()] + " " +
      pad(d.getUTCDate(), 2) + " " + (y < 0 ? "-" + pad(-y, 6) : pad(y, 4));
  };
  var timeText = function (d) {
    return pad(d.getUTCHours(), 2) + ":" + pad(d.getUTCMinutes(), 2) + ":" +
      pad(d.getUTCSeconds(), 2) + " GMT+0000 (Coordinated Universal Time)";
  };
  var guard = function (f) {
    return function () {
      return isNaN(this.getTime()) ? "Invalid Date" : f(this);
    };
  };
  define(proto, "toString", guard(function (d) {
    return dateText(d) + " " + timeText(d);
  }));
  define(proto, "toDateString", guard(dateText));
  define(proto, "toTimeString", guard(timeText));
  define(proto, "toLocaleString", guard(function (d) {
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "");
  }));
  define(proto, "toLocaleDateString", guard(function (d) {
    return d.toISOString().slice(0, 10);
  }));
  define(proto, "toLocaleTimeString", guard(function (d) {
    return d.toISOString().slice(11, 19);
  }));

  // Strings with no zone are read as UTC: ISO date-times by adding `Z`, other forms by
  // undoing the host's offset that the engine applied.
  var isoLocal = /^[+-]?\d{4,6}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?$/;
  var hasZone = /(Z|[+-]\d\d:?\d\d|\b(GMT|UTC|UT)\b[^]*)$/i;
  var dateOnly = /^[+-]?\d{4,6}(-\d\d(-\d\d)?)?$/;
  var realParse = RealDate.parse;
  var parse = function (s) {
    s = String(s).trim();
    if (isoLocal.test(s)) return realParse(s.replace(" ", "T") + "Z");
    var t = realParse(s);
    if (isNaN(t) || dateOnly.test(s) || hasZone.test(s)) return t;
    // The engine read the fields as the host's local time: t = UTC(fields) + offset.
    return t - realOffset.call(new RealDate(t)) * 60000;
  };

  function Date(a, b, c, d, e, f, g) {
    var n = arguments.length;
    if (!new.target) return new Date().toString();
    var t;
    if (n === 0) t = now();
    else if (n === 1) {
      if (a instanceof RealDate) t = a.getTime();
      else {
        var p = typeof a === "object" && a !== null ? a.valueOf() : a;
        t = typeof p === "string" ? parse(p) : +p;
      }
    } else {
      t = RealDate.UTC(
        a, b, n > 2 ? c : 1, n > 3 ? d : 0, n > 4 ? e : 0, n > 5 ? f : 0, n > 6 ? g : 0,
      );
    }
    return Reflect.construct(RealDate, [t], new.target);
  }
  Object.setPrototypeOf(Date, RealDate);
  Date.prototype = proto;
  Object.defineProperty(Date, "prototype", { writable: false });
  define(proto, "constructor", Date);
  define(Date, "now", function now_() {
    return now();
  });
  define(Date, "parse", function parse_(s) {
    return parse(s);
  });
  define(Date, "UTC", RealDate.UTC);
  define(global, "Date", Date);

  // --- Math.random from a seed (xorshift128+ on 32-bit halves, no BigInt). ---------------
  var realRandom = Math.random;
  var s0 = 0, s1 = 0, s2 = 0, s3 = 0, seeded = false;
  var next = function () {
    var t = s0 ^ (s0 << 11);
    s0 = s1; s1 = s2; s2 = s3;
    s3 = (s3 ^ (s3 >>> 19) ^ t ^ (t >>> 8)) | 0;
    return s3 >>> 0;
  };
  define(Math, "random", function random() {
    if (!seeded) return realRandom();
    // 53 random bits, as doubles in [0, 1) hold.
    var hi = next() >>> 5, lo = next() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  });

  // --- console: to lorafield's debug log, never to the output. ---------------------------
  var text = function (args) {
    var parts = [];
    for (var i = 0; i < args.length; i++) {
      var v = args[i];
      if (typeof v === "string") parts.push(v);
      else {
        try {
          parts.push(JSON.stringify(v) === undefined ? String(v) : JSON.stringify(v));
        } catch (err) {
          parts.push(String(v));
        }
      }
    }
    return parts.join(" ");
  };
  var console = {};
  ["log", "info", "warn", "error", "debug", "trace"].forEach(function (level) {
    define(console, level, function () {
      log(level, text(arguments));
    });
  });
  define(global, "console", console);

  // --- Globals a call creates. --------------------------------------------------------
  // Found by comparing the global object's own names with those it had after the script was
  // evaluated; lorafield tells `cleanup` whether they changed (the count, the first or the last
  // name differ: names come in the order they were made, integer-like ones first), which it
  // finds without making an array of them. (A proxy on the global object's prototype chain
  // would see each creation, but the engine then reads an undeclared name through the proxy
  // as undefined instead of throwing a ReferenceError.)
  var ownNames = Object.getOwnPropertyNames;
  var descriptor = Object.getOwnPropertyDescriptor;
  var createObject = Object.create;
  var same = Object.is;

  // --- Helpers for lorafield. ----------------------------------------------------------
  var baseline = null;
  var primitives = [];
  // The originals, before a script can change them.
  var isView = ArrayBuffer.isView;
  var DataViewClass = DataView;
  var slice = Array.prototype.slice;
  var StringClass = String;
  var dateTime = proto.getTime;
  var dateIso = proto.toISOString;
  // Boxed primitives (new Number(5), new String("x"), Object(1n)): their class and the
  // valueOf that reads their value (it throws for an object that only has the prototype).
  var boxes = [
    [Number, Number.prototype.valueOf], [StringClass, String.prototype.valueOf],
    [Boolean, Boolean.prototype.valueOf], [BigInt, BigInt.prototype.valueOf],
    [Symbol, Symbol.prototype.valueOf],
  ];
  var unbox = function (v) {
    for (var i = 0; i < boxes.length; i++) {
      if (v instanceof boxes[i][0]) {
        try {
          return { value: boxes[i][1].call(v) };
        } catch (err) {
          return null;
        }
      }
    }
    return null;
  };
  return {
    // The clock for the next call: a fixed instant in ms, or null for the host's.
    setNow: function (ms) {
      fixedNow = ms;
    },
    // Seeds Math.random from four 32-bit words (all zero: the engine's own generator).
    seed: function (a, b, c, d) {
      s0 = a | 0; s1 = b | 0; s2 = c | 0; s3 = d | 0;
      seeded = (s0 | s1 | s2 | s3) !== 0;
    },
    // Remembers the globals the script made when it was evaluated, and the values of those
    // that hold a number, string, boolean, null or undefined.
    snapshot: function () {
      baseline = createObject(null);
      primitives = [];
      var own = ownNames(global);
      for (var i = 0; i < own.length; i++) {
        var name = own[i];
        baseline[name] = true;
        var d = descriptor(global, name);
        if (d && "value" in d && d.writable &&
            (d.value === null || (typeof d.value !== "object" && typeof d.value !== "function"))) {
          primitives.push(name, d.value);
        }
      }
      return own.length;
    },
    // Undoes what a call did to the globals: removes those it made (implicit globals,
    // `globalThis.x = ...`) and gives back their values to the primitive ones it changed (a
    // top-level `var pointer = 0` that a call advanced). Objects a call changed in place keep
    // their changes: only a fresh context undoes those. `changed`: whether the global object's
    // names differ from the snapshot's.
    cleanup: function (changed) {
      var removed = 0;
      if (changed && baseline !== null) {
        var own = ownNames(global);
        for (var i = 0; i < own.length; i++) {
          var name = own[i];
          if (!baseline[name] && delete global[name]) removed++;
        }
      }
      for (var j = 0; j < primitives.length; j += 2) {
        var v = primitives[j + 1];
        if (!same(global[primitives[j]], v)) global[primitives[j]] = v;
      }
      return removed;
    },
    // Builds the TS013 input object.
    input: function (bytes, fPort, recvMs, variables) {
      var input = { bytes: bytes, fPort: fPort };
      if (recvMs !== null) input.recvTime = new Date(recvMs);
      if (variables !== undefined) input.variables = variables;
      return input;
    },
    // What an object is: 1 a Date (printed as its ISO text), 2 a typed array (printed as
    // an array), 3 a boxed primitive (printed as its value), 0 anything else. An object that
    // only has one of their prototypes is none of them.
    kind: function (v) {
      if (v instanceof RealDate) {
        try {
          dateTime.call(v);
          return 1;
        } catch (err) {
          return 0;
        }
      }
      if (isView(v)) return v instanceof DataViewClass ? 0 : 2;
      return unbox(v) === null ? 0 : 3;
    },
    unbox: function (v) {
      var boxed = unbox(v);
      return boxed === null ? undefined : boxed.value;
    },
    toArray: function (v) {
      return slice.call(v);
    },
    toText: function (v) {
      return StringClass(v);
    },
    iso: function (d) {
      return isNaN(dateTime.call(d)) ? null : dateIso.call(d);
    },
    Date: Date,
    // Object.prototype as it was: an object with it as its prototype is a plain one.
    objectPrototype: Object.prototype,
  };
});
