/* assert_near: cmocka's assert_float_equal compares as float, too coarse for mJ totals and
 * kg CO2e sums. Include after <cmocka.h> and <math.h>. */
#ifndef WP_TEST_NEAR_H
#define WP_TEST_NEAR_H

#define assert_near(a, b, eps)                                                                     \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (eps)))                                                             \
            fail_msg("%s = %.17g, expected %.17g (+-%g)", #a, a_, b_, (double)(eps));              \
    } while (0)

#endif
