/* braidd's bond-receive sessions: `braid recv`'s component (recv_node) behind the session
 * manager's operations, one node per session on braidd's loop. */
#ifndef BRAID_APP_BRAIDD_BOND_H
#define BRAID_APP_BRAIDD_BOND_H

#include "ctl/manager.h"

extern const struct ctl_bond_ops braidd_bond_ops;

#endif
