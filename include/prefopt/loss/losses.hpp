// SPDX-License-Identifier: MIT
// Every loss policy of prefopt::loss, and the list of their names (what a --loss flag accepts).
// Choosing a loss at run time is a switch over these types in the program (GUIDE §4); there is no
// runtime dispatch here.
#pragma once

#include <string>
#include <vector>

#include "prefopt/loss/dpo.hpp"
#include "prefopt/loss/hinge.hpp"
#include "prefopt/loss/ipo.hpp"
#include "prefopt/loss/orpo.hpp"
#include "prefopt/loss/pair_loss.hpp"
#include "prefopt/loss/sft.hpp"
#include "prefopt/loss/simpo.hpp"
#include "prefopt/loss/slic.hpp"
#include "prefopt/loss/stable_math.hpp"

namespace prefopt::loss {

static_assert(is_pair_loss_v<Dpo> && is_pair_loss_v<Ipo> && is_pair_loss_v<Hinge> && is_pair_loss_v<Slic> &&
              is_pair_loss_v<SimPo> && is_pair_loss_v<Orpo> && is_pair_loss_v<Sft>);

/// The `name` of every loss above, in this order: dpo, ipo, hinge, slic, simpo, orpo, sft.
inline const std::vector<std::string>& loss_type_names() {
  static const std::vector<std::string> names{Dpo::name,   Ipo::name,  Hinge::name, Slic::name,
                                              SimPo::name, Orpo::name, Sft::name};
  return names;
}

}  // namespace prefopt::loss
