/* placeholder until the report module lands */
typedef int rb_placeholder_report;
