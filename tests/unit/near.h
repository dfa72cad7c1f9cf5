/* assert_near: doubles equal within eps, printed in full when not (cmocka's
 * assert_float_equal compares as float, too coarse for mJ totals). Include after cmocka.h. */
#ifndef WP_TEST_NEAR_H
#define WP_TEST_NEAR_H

#include <math.h>

#define assert_near(a, b, eps)                                                                     \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (eps)))                                                             \
            fail_msg("%s = %.17g, expected %.17g (+-%g)", #a, a_, b_, (double)(eps));              \
    } while (0)

#endif
