#pragma once
// Small statistics used by the Sparsey experiments.
#include <span>
#include <vector>

namespace experiments::sparsey {

// Ranks 1..n, ties given the mean of the ranks they span (the convention of Spearman's
// rank correlation with ties, e.g. Kendall & Gibbons, "Rank Correlation Methods").
std::vector<double> average_ranks(std::span<const double> x);
// Pearson's product-moment correlation; NaN when either side has zero variance.
double pearson(std::span<const double> x, std::span<const double> y);
// Spearman's rho: Pearson's correlation of the average ranks.
double spearman(std::span<const double> x, std::span<const double> y);

double mean(std::span<const double> x);
// Sample standard deviation (n - 1); 0 for fewer than two values.
double sample_sd(std::span<const double> x);

}  // namespace experiments::sparsey
