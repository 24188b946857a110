// Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_): one scale for all parameters together.
using System.Numerics.Tensors;

namespace ResidualLM.Training;

/// <summary>Global-norm gradient utilities.</summary>
public static class GradientClipping
{
    /// <summary>sqrt(sum over parameters of |grad|^2), accumulated in double; NaN or infinity if any gradient is.</summary>
    public static double GlobalNorm(IEnumerable<Tensor> parameters)
    {
        double sum = 0;
        foreach (var p in parameters)
        {
            if (p.Grad is null) continue;
            double s = 0;
            foreach (float g in p.Grad.Data) s += (double)g * g;
            sum += s;
        }
        return Math.Sqrt(sum);
    }

    /// <summary>
    /// Scales every gradient by maxNorm / (norm + 1e-6) when the global norm exceeds maxNorm (as PyTorch).
    /// Returns the norm before clipping. A non-finite norm is returned untouched (the caller decides what to do).
    /// </summary>
    public static double ClipByGlobalNorm(IReadOnlyCollection<Tensor> parameters, double maxNorm)
    {
        double norm = GlobalNorm(parameters);
        if (!double.IsFinite(norm) || maxNorm <= 0 || norm <= maxNorm) return norm;
        float scale = (float)(maxNorm / (norm + 1e-6));
        foreach (var p in parameters)
            if (p.Grad is not null) TensorPrimitives.Multiply(p.Grad.Data, scale, p.Grad.Data);
        return norm;
    }
}
