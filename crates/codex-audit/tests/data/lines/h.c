#include <stdio.h>

/* Block
 * comment
 */
int main(void) {
    // line comment
    printf("/* not */\n"); /* trailing */
    return 0;
}
