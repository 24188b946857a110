// Scalar twin of the AdamW update kernel.
namespace ResidualLM.Kernels.Reference;

/// <summary>Obviously-correct version of <see cref="Optimizer"/>.</summary>
public static class OptimizerReference
{
    /// <summary>The update of <see cref="Optimizer.AdamWUpdate"/>, one element at a time.</summary>
    public static void AdamWUpdate(ReadOnlySpan<float> gradient, Span<float> parameter, Span<float> firstMoment, Span<float> secondMoment,
        float beta1, float beta2, float shrink, float stepSize, float rootCorrection, float eps)
    {
        for (int i = 0; i < parameter.Length; i++)
        {
            float g = gradient[i];
            firstMoment[i] = beta1 * firstMoment[i] + (1f - beta1) * g;
            secondMoment[i] = beta2 * secondMoment[i] + (1f - beta2) * g * g;
            parameter[i] = parameter[i] * shrink - stepSize * firstMoment[i] / (MathF.Sqrt(secondMoment[i]) / rootCorrection + eps);
        }
    }
}
