process EXPORT_ONNX {
    tag "${model_file ?: params.model}"
    label 'process_medium'

    input:
    path model_file     // [] when params.model is a name ('random', 'oracle')
    path hparams_file   // [] unless params.hparams names a JSON file

    output:
    path 'model.onnx',   emit: onnx
    path 'versions.yml', emit: versions

    script:
    def model     = model_file ?: params.model
    def hparams   = hparams_file ? "--hparams ${hparams_file}" : (params.hparams ? "--hparams '${params.hparams}'" : '')
    // All bins and tracks, so every readout predict builds (tracks by name, bins, fine-tuned) works on
    // it; fp16 weights when fp16 was asked for, else fp32.
    def precision = params.precision == 'fp16' ? 'fp16' : 'fp32'
    """
    seqgx export-onnx \\
        --model ${model} ${hparams} --window-length ${params.window_length} --precision ${precision} \\
        --seed ${params.seed} --threads ${task.cpus} --out model.onnx

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
        torch: \$(python -c 'import torch; print(torch.__version__)')
        onnxruntime: \$(python -c 'import onnxruntime; print(onnxruntime.__version__)')
    END_VERSIONS
    """

    stub:
    """
    touch model.onnx
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
