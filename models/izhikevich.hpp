#pragma once
// The Izhikevich (2003) neuron and the integrators snnsim offers for it.
//
// Model (Izhikevich 2003, "Simple model of spiking neurons", IEEE Trans. Neural
// Networks 14:1569–1572, eqs. 1–3):
//
//   dv/dt = 0.04 v² + 5 v + 140 − u + I        (eq. 1)
//   du/dt = a (b v − u)                         (eq. 2)
//   if v ≥ v_peak (= 30 mV):  v ← c,  u ← u + d  (eq. 3)
//
// Units as in the paper: v in mV, t in ms; u and I in the paper's (dimensionless)
// units, chosen so that eq. 1 yields mV/ms. The 0.04, 5 and 140 were fitted by
// Izhikevich to the spike initiation of a cortical neuron and are not parameters.
//
// Parameters:
//
//   name       default  unit   meaning
//   a          —        1/ms   rate of the recovery variable u (small = slow recovery)
//   b          —        —      sensitivity of u to subthreshold v; a large b (RZ's 0.26)
//                              makes rest a focus, so v rings after a perturbation
//   c_mV       —        mV     value of v after a spike (fast K⁺ after-spike reset)
//   d          —        as u   increment of u after a spike (slow Na⁺/K⁺ after-spike)
//   v_peak_mV  30       mV     spike cut-off: the apex of the spike, not a threshold
//
// Presets of the paper's Fig. 2 (a, b, c_mV, d):
//
//   RS  regular spiking (cortical excitatory)      0.02  0.2   −65  8
//   IB  intrinsically bursting                     0.02  0.2   −55  4
//   CH  chattering (fast rhythmic bursting)        0.02  0.2   −50  2
//   FS  fast spiking (cortical inhibitory)         0.1   0.2   −65  2
//   LTS low-threshold spiking (cortical inhib.)    0.02  0.25  −65  2
//   TC  thalamo-cortical                           0.02  0.25  −65  0.05
//   RZ  resonator                                  0.1   0.26  −65  2
//
// The network code printed in the paper draws heterogeneous cells with r ~ U(0, 1):
//   excitatory: a = 0.02, b = 0.2, c = −65 + 15 r², d = 8 − 6 r²  (r = 0 is RS, r = 1 is CH)
//   inhibitory: a = 0.02 + 0.08 r, b = 0.25 − 0.05 r, c = −65, d = 2  (r = 0 is LTS, r = 1 is FS)
//
// Spike-time convention. One step k advances a neuron from time k·dt to (k+1)·dt with
// the input I held constant. If v reaches v_peak during step k, snnsim stamps the spike
// at k·dt, and the reset (eq. 3) is applied at the end of that step, so the state a
// step function returns is always below v_peak. The paper's MATLAB loop does the same
// arithmetic in the other order: reading its loop index t as the time (ms) of the state
// at the top of iteration t, its update in iteration t is our step k = t, and it finds
// the crossing only at the top of iteration t + 1, where it records time t + 1.
// Hence the 2003 code's recorded spike times are ours + 1 ms.
//
// Integrators (each advances (v, u) over one step of dt_ms, then applies eq. 3):
//
//   izhikevich2003          The paper's scheme: v by two forward-Euler half-steps of
//                           dt/2, then u by one Euler step using the *new* v. Order 1.
//                           Cost: 2 evaluations of eq. 1, 1 of eq. 2. At dt = 1 ms it is
//                           the published arithmetic exactly, so use it to reproduce the
//                           2003 network. Caveat: when v crosses v_peak in the first
//                           half-step, the second half-step sees v ≫ 30 and v ends the
//                           step near 10³ mV; u then receives a spurious kick of
//                           a·b·(v − 30) before the reset (≈ 5.9 for RS from v = 29 mV,
//                           u = −10 at dt = 1 ms, where v ends the step at ≈ 1500 mV).
//   izhikevich2003_clipped  The same, with v clipped at v_peak after each half-step, so u
//                           never sees v > v_peak. Order 1, same cost. Recommended for
//                           network simulations at dt = 1 ms (the prototype's choice): it
//                           keeps the 2003 scheme below threshold and removes the kick.
//   euler                   Forward Euler on (v, u) jointly. Order 1, 1 evaluation of each
//                           equation. The textbook scheme (NEST's "consistent
//                           integration"); needs dt ≲ 0.1 ms for accurate spike times.
//   rk4                     Classical Runge–Kutta, one fixed step (Boost.Odeint
//                           runge_kutta4), spike check after the step. Order 4 below
//                           threshold, 4 evaluations. Accurate subthreshold dynamics at
//                           dt ≈ 0.1–0.5 ms; spike times still on the step grid. Its
//                           stages see v clipped at v_peak (a stage past threshold would
//                           otherwise reach ~1e7 mV at dt = 1 ms and kick u absurdly).
//   dopri5                  The accuracy reference. Adaptive Dormand–Prince 5(4) with
//                           dense output (Boost.Odeint), tolerances dopri5_abs_tol /
//                           dopri5_rel_tol below; finds the v_peak crossing inside the step
//                           by bisection on the dense output, resets there and integrates
//                           on to the end of the step. Error set by the tolerances, not
//                           by dt. Tens to hundreds of evaluations per ms: for tests,
//                           validation and single-cell studies, not for networks.
//
// The three inline steps are the hot path: the engine calls them inside a vectorised
// loop over neurons, so they are branch-free (selects, not ifs) and call nothing.
#include <optional>
#include <string_view>

namespace models::izhikevich {

struct Params {
  double a;                 // 1/ms
  double b;                 // dimensionless
  double c_mV;              // mV
  double d;                 // units of u
  double v_peak_mV = 30.0;  // mV
};

// A Fig. 2 preset by its abbreviation ("RS", "IB", "CH", "FS", "LTS", "TC", "RZ").
std::optional<Params> preset(std::string_view name);

// The heterogeneous cells of the paper's network code, for r in [0, 1].
Params excitatory_2003(double r);
Params inhibitory_2003(double r);

// Stable resting potential (mV) for a constant input I: the lower root of
// 0.04 v² + (5 − b) v + 140 + I = 0 (eqs. 1–2 with dv/dt = du/dt = 0, u = b v).
// Empty when I is above rheobase (no equilibrium: the cell fires tonically).
// That root is stable for the Fig. 2 presets; with exotic (a, b) it may not be.
std::optional<double> resting_v_mV(const Params& p, double I = 0.0);

enum class Integrator { izhikevich2003, izhikevich2003_clipped, euler, rk4, dopri5 };

// Names are exactly the enumerator names ("izhikevich2003", "rk4", ...).
std::optional<Integrator> parse_integrator(std::string_view name);
std::string_view integrator_name(Integrator integrator);

// Right-hand side of eq. 1. Written as 0.04·(v·v) because that is how MATLAB evaluates
// 0.04*v.^2; (0.04·v)·v rounds differently and would break bit-exact reproduction.
// The cheap steps are forced inline: the population loop instantiates them in several
// variants, and only inlined they vectorise (a call per neuron costs ~3x the whole step).
[[gnu::always_inline]] inline double dv_dt(double v_mV, double u, double I) {
  return 0.04 * (v_mV * v_mV) + 5.0 * v_mV + 140.0 - u + I;
}

// Eq. 3, branch-free. Returns whether the cell spiked.
[[gnu::always_inline]] inline bool apply_reset(double& v_mV, double& u, const Params& p) {
  const bool spiked = v_mV >= p.v_peak_mV;
  v_mV = spiked ? p.c_mV : v_mV;
  u = spiked ? u + p.d : u;
  return spiked;
}

// The 2003 scheme. At dt_ms = 1 the half-step is 0.5 and dt·x = x exactly, so every
// rounding matches the paper's loop body
//   v=v+0.5*(0.04*v.^2+5*v+140-u+I); v=v+0.5*(…); u=u+a.*(b.*v-u);
[[gnu::always_inline]] inline bool step_izhikevich2003(double& v_mV, double& u, const Params& p, double I, double dt_ms) {
  const double h = 0.5 * dt_ms;
  v_mV = v_mV + h * dv_dt(v_mV, u, I);
  v_mV = v_mV + h * dv_dt(v_mV, u, I);
  u = u + dt_ms * (p.a * (p.b * v_mV - u));
  return apply_reset(v_mV, u, p);
}

// The 2003 scheme with v clipped at v_peak after each half-step: once v has reached
// v_peak the spike is certain, and clipping keeps the second half-step and the u update
// from seeing the runaway of the quadratic (see the header comment).
[[gnu::always_inline]] inline bool step_izhikevich2003_clipped(double& v_mV, double& u, const Params& p, double I,
                                        double dt_ms) {
  const double h = 0.5 * dt_ms;
  v_mV = v_mV + h * dv_dt(v_mV, u, I);
  v_mV = v_mV < p.v_peak_mV ? v_mV : p.v_peak_mV;
  v_mV = v_mV + h * dv_dt(v_mV, u, I);
  v_mV = v_mV < p.v_peak_mV ? v_mV : p.v_peak_mV;
  u = u + dt_ms * (p.a * (p.b * v_mV - u));
  return apply_reset(v_mV, u, p);
}

// Forward Euler on (v, u) together: both derivatives at the start of the step.
[[gnu::always_inline]] inline bool step_euler(double& v_mV, double& u, const Params& p, double I, double dt_ms) {
  const double dv = dv_dt(v_mV, u, I);
  const double du = p.a * (p.b * v_mV - u);
  v_mV = v_mV + dt_ms * dv;
  u = u + dt_ms * du;
  return apply_reset(v_mV, u, p);
}

// One classical RK4 step (Boost.Odeint runge_kutta4), then eq. 3 on the end state.
bool step_rk4(double& v_mV, double& u, const Params& p, double I, double dt_ms);

// Tolerances of the dopri5 reference: the controller keeps each local error estimate
// below abs_tol + rel_tol·|x| in both v (mV) and u (a few hundred ulps at |v| ≈ 65 mV,
// so the controller never chases rounding noise). Measured against the closed form
// (tests/unit/test_izhikevich.cpp): v within 5e-11 mV over 100 ms below threshold;
// crossing times within 4e-12 ms under strong drive and 5e-8 ms after a 69 ms crawl past
// the saddle-node, where any error in v is amplified into timing.
inline constexpr double dopri5_abs_tol = 1e-13;
inline constexpr double dopri5_rel_tol = 1e-13;

// Adaptive Dormand–Prince over [0, dt_ms] with the spike located inside the step: at
// the first time t* with v(t*) = v_peak (found to 1e-13 ms by bisection on the dense
// output) the reset is applied and the integration restarts from t* with (c, u(t*) + d).
// If several crossings fall into one step (only when dt_ms is comparable to the
// inter-spike interval) all resets are applied and the first crossing is reported.
// spike_offset_ms, if given, receives t* in [0, dt_ms] (unchanged without a spike).
// Requires c_mV < v_peak_mV, as every physiological parameter set has.
bool step_dopri5(double& v_mV, double& u, const Params& p, double I, double dt_ms,
                 double* spike_offset_ms = nullptr);

// Dispatch by integrator, for single cells and tests. A vectorised loop should select
// the integrator once outside the loop instead.
inline bool step(Integrator integrator, double& v_mV, double& u, const Params& p, double I,
                 double dt_ms) {
  switch (integrator) {
    case Integrator::izhikevich2003:
      return step_izhikevich2003(v_mV, u, p, I, dt_ms);
    case Integrator::izhikevich2003_clipped:
      return step_izhikevich2003_clipped(v_mV, u, p, I, dt_ms);
    case Integrator::euler:
      return step_euler(v_mV, u, p, I, dt_ms);
    case Integrator::rk4:
      return step_rk4(v_mV, u, p, I, dt_ms);
    case Integrator::dopri5:
      return step_dopri5(v_mV, u, p, I, dt_ms);
  }
  return false;
}

}  // namespace models::izhikevich
