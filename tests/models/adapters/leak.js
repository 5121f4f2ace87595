'use strict';
// Broken on purpose: a version-2 adapter that keeps a count of the runs its process served outside
// its replicas and lets it shift a timer, so a seed run after another differs from the same seed run
// alone. The test that a reused process carries nothing from one run to the next must catch it.
require('./fixture').run({ protocol2: true, leakAcrossRuns: true });
