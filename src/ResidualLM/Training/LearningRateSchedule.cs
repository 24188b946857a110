// Learning-rate schedule: linear warmup, then cosine decay to a floor (nanoGPT's get_lr), or constant.
namespace ResidualLM.Training;

/// <summary>
/// lr(step) = max * (step + 1) / warmup during warmup; then min + 0.5 (1 + cos(pi p)) (max - min) with
/// p = (step - warmup) / (decaySteps - warmup) in [0, 1]; min after decaySteps.
/// </summary>
/// <param name="MaxLearningRate">Peak learning rate, reached at the end of warmup.</param>
/// <param name="MinLearningRate">Floor of the cosine decay (nanoGPT uses max/10).</param>
/// <param name="WarmupSteps">Steps of linear warmup (0 for none).</param>
/// <param name="DecaySteps">Step at which the cosine reaches the floor (usually the total step count).</param>
/// <param name="Cosine">False for a constant rate after warmup.</param>
public sealed record LearningRateSchedule(double MaxLearningRate, double MinLearningRate, int WarmupSteps, int DecaySteps, bool Cosine = true)
{
    /// <summary>The learning rate for a zero-based optimizer step.</summary>
    public double At(int step)
    {
        if (step < WarmupSteps) return MaxLearningRate * (step + 1) / WarmupSteps;
        if (!Cosine) return MaxLearningRate;
        if (step >= DecaySteps) return MinLearningRate;
        double progress = (double)(step - WarmupSteps) / Math.Max(1, DecaySteps - WarmupSteps);
        return MinLearningRate + 0.5 * (1.0 + Math.Cos(Math.PI * progress)) * (MaxLearningRate - MinLearningRate);
    }
}
