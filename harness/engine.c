/* placeholder until the engine module lands */
typedef int rb_placeholder_engine;
