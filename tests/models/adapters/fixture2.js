'use strict';
// The fixture as a version-2 adapter: one process serves many runs, reset between them.
require('./fixture').run({ protocol2: true });
