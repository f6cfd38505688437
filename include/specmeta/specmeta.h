// Umbrella header of the specmeta C++ API.
#pragma once

#include "specmeta/expand.h"
#include "specmeta/metadata.h"
#include "specmeta/types.h"
