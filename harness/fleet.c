/* placeholder until the fleet module lands */
typedef int rb_placeholder_fleet;
