#include "models/izhikevich.hpp"

#include <algorithm>
#include <array>
#include <boost/numeric/odeint/stepper/generation.hpp>
#include <boost/numeric/odeint/stepper/runge_kutta4.hpp>
#include <boost/numeric/odeint/stepper/runge_kutta_dopri5.hpp>
#include <cmath>

namespace models::izhikevich {

namespace odeint = boost::numeric::odeint;

std::optional<Params> preset(std::string_view name) {
  // Izhikevich 2003, Fig. 2.
  if (name == "RS") return Params{.a = 0.02, .b = 0.2, .c_mV = -65.0, .d = 8.0};
  if (name == "IB") return Params{.a = 0.02, .b = 0.2, .c_mV = -55.0, .d = 4.0};
  if (name == "CH") return Params{.a = 0.02, .b = 0.2, .c_mV = -50.0, .d = 2.0};
  if (name == "FS") return Params{.a = 0.1, .b = 0.2, .c_mV = -65.0, .d = 2.0};
  if (name == "LTS") return Params{.a = 0.02, .b = 0.25, .c_mV = -65.0, .d = 2.0};
  if (name == "TC") return Params{.a = 0.02, .b = 0.25, .c_mV = -65.0, .d = 0.05};
  if (name == "RZ") return Params{.a = 0.1, .b = 0.26, .c_mV = -65.0, .d = 2.0};
  return std::nullopt;
}

// Same operation order as the paper's MATLAB (c=-65+15*re.^2, d=8-6*re.^2, …), so the
// parameters round identically.
Params excitatory_2003(double r) {
  const double r2 = r * r;
  return Params{.a = 0.02, .b = 0.2, .c_mV = -65.0 + 15.0 * r2, .d = 8.0 - 6.0 * r2};
}

Params inhibitory_2003(double r) {
  return Params{.a = 0.02 + 0.08 * r, .b = 0.25 - 0.05 * r, .c_mV = -65.0, .d = 2.0};
}

std::optional<double> resting_v_mV(const Params& p, double I) {
  // 0.04 v² + (5 − b) v + (140 + I) = 0; the lower root is the stable node or focus.
  const double B = 5.0 - p.b;
  const double disc = B * B - 4.0 * 0.04 * (140.0 + I);
  if (disc < 0.0) return std::nullopt;
  return (-B - std::sqrt(disc)) / (2.0 * 0.04);
}

std::optional<Integrator> parse_integrator(std::string_view name) {
  for (const Integrator i : {Integrator::izhikevich2003, Integrator::izhikevich2003_clipped,
                             Integrator::euler, Integrator::rk4, Integrator::dopri5}) {
    if (name == integrator_name(i)) return i;
  }
  return std::nullopt;
}

std::string_view integrator_name(Integrator integrator) {
  switch (integrator) {
    case Integrator::izhikevich2003:
      return "izhikevich2003";
    case Integrator::izhikevich2003_clipped:
      return "izhikevich2003_clipped";
    case Integrator::euler:
      return "euler";
    case Integrator::rk4:
      return "rk4";
    case Integrator::dopri5:
      return "dopri5";
  }
  return "unknown";
}

namespace {

using State = std::array<double, 2>;  // {v_mV, u}

// Eqs. 1–2 with v seen through a ceiling. Below the ceiling this is the exact model.
// Above v_peak the model is undefined (the spike has happened), but a trial stage of a
// Runge–Kutta step can land there, where the quadratic runs off to infinity within a
// fraction of a millisecond; the ceiling keeps such stages finite.
struct Rhs {
  const Params& p;
  double I;
  double v_ceiling_mV;
  void operator()(const State& x, State& dxdt, double /*t*/) const {
    const double v = std::min(x[0], v_ceiling_mV);
    dxdt[0] = dv_dt(v, x[1], I);
    dxdt[1] = p.a * (p.b * v - x[1]);
  }
};

// dopri5's ceiling lies well above v_peak, so the steps around the crossing (which are
// short: v goes from 30 to 130 mV in about 0.15 ms) integrate the smooth model and the
// dense output stays accurate; the ceiling only turns a rejected over-long trial step
// from inf/NaN (which the error controller could accept, NaN > 1 being false) into a
// large finite error estimate.
constexpr double dopri5_ceiling_above_peak_mV = 100.0;

// Width (ms) to which the crossing is bracketed: far below any error the tolerances
// allow, and well above the spacing of doubles near 1 ms (2.2e-16).
constexpr double crossing_resolution_ms = 1e-13;

}  // namespace

bool step_rk4(double& v_mV, double& u, const Params& p, double I, double dt_ms) {
  // Ceiling at v_peak: like the clipped 2003 scheme, u never sees v above v_peak, so a
  // step across threshold does not kick u by the stages' runaway values (at dt = 1 ms an
  // unbounded stage reaches ~1e7 mV). Subthreshold steps are plain RK4.
  odeint::runge_kutta4<State> stepper;
  State x{v_mV, u};
  stepper.do_step(Rhs{p, I, p.v_peak_mV}, x, 0.0, dt_ms);
  v_mV = x[0];
  u = x[1];
  return apply_reset(v_mV, u, p);
}

bool step_dopri5(double& v_mV, double& u, const Params& p, double I, double dt_ms,
                 double* spike_offset_ms) {
  const Rhs rhs{p, I, p.v_peak_mV + dopri5_ceiling_above_peak_mV};
  auto dense = odeint::make_dense_output(dopri5_abs_tol, dopri5_rel_tol,
                                         odeint::runge_kutta_dopri5<State>());
  bool spiked = false;
  auto reset_at = [&](double t_cross, State& x) {
    if (!spiked && spike_offset_ms != nullptr) *spike_offset_ms = t_cross;
    spiked = true;
    x[0] = p.c_mV;
    x[1] += p.d;
  };

  State x{v_mV, u};
  double t = 0.0;
  // A state handed in at or above v_peak has already reached the spike: reset at once.
  if (x[0] >= p.v_peak_mV) reset_at(0.0, x);

  while (t < dt_ms) {
    // (Re)start the adaptive integration at t, the start of the step or the last reset.
    // The first trial step is short; the controller lengthens it within a few steps.
    dense.initialize(x, t, std::min(dt_ms - t, 0.01));
    while (true) {
      const auto [t0, t1] = dense.do_step(rhs);
      const double t_end = std::min(t1, dt_ms);
      State x_end;
      if (t1 <= dt_ms) {
        x_end = dense.current_state();
      } else {
        dense.calc_state(t_end, x_end);
      }
      State x0;
      dense.calc_state(t0, x0);
      if (x0[0] < p.v_peak_mV && x_end[0] >= p.v_peak_mV) {
        // v is increasing through v_peak (dv/dt ≥ 0.04·30² + 5·30 + 140 − u + I > 0
        // there for any physiological u), so bisection brackets the one crossing.
        double lo = t0;
        double hi = t_end;
        State x_mid;
        while (hi - lo > crossing_resolution_ms) {
          const double mid = 0.5 * (lo + hi);
          if (mid <= lo || mid >= hi) break;
          dense.calc_state(mid, x_mid);
          (x_mid[0] >= p.v_peak_mV ? hi : lo) = mid;
        }
        State x_cross;
        dense.calc_state(hi, x_cross);
        reset_at(hi, x_cross);
        x = x_cross;
        t = hi;
        break;  // restart from the reset state
      }
      if (t1 >= dt_ms) {
        x = x_end;
        t = dt_ms;
        break;
      }
    }
  }
  v_mV = x[0];
  u = x[1];
  return spiked;
}

}  // namespace models::izhikevich
