'use strict';
// Broken on purpose: it aligns its heartbeat to the real clock (process.hrtime, which the protocol
// library does not virtualise), so two runs of one seed differ: --verify-determinism must catch it.
require('./fixture').run({ realClockHeartbeat: true });
