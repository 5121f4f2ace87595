'use strict';
// Broken on purpose: a write that arrives before the writes it follows is dropped instead of
// buffered. Over reordering datagrams the replicas then never converge: the checkers must catch it.
require('./fixture').run({ dropOutOfOrder: true });
