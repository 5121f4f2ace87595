'use strict';
// Broken on purpose: a debugging console.log left in the library writes a line that is not protocol
// to stdout from the third user operation on. The simulator must name the line it got.
require('./fixture').run({ garbageOnOp: 3 });
