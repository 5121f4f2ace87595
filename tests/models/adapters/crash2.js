'use strict';
// Broken on purpose, as crash.js, as a version-2 adapter: its process dies at the fifth operation of
// a run, so a process kept for the next run must not be the dead one.
require('./fixture').run({ protocol2: true, crashOnOp: 5 });
