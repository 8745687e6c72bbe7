process ISM {
    tag "${batch_id}"
    label 'process_gpu'

    input:
    tuple val(batch_id), path(haplotypes)
    path model_file         // torch weights (fast ISM), or the .onnx file when there are none; [] for 'oracle'
    path hparams_file       // [] unless params.hparams names a JSON file
    path finetuned_weights  // [] when not given; several with tissues (named finetuned:<stem>)
    path track_names        // [] when not given
    val tracks              // '--tracks ...' (the run's tracks, or the union of the tissues' readouts); '' for the model's default

    output:
    tuple val(batch_id), path('ism/*.ism.tsv'),       emit: ism
    path 'ism/*.ism.json',                            emit: info   // method and model identity per gene
    path 'ism/*.saturation.npz', optional: true,      emit: saturation
    tuple val(batch_id), path('ism/*.saturation.npz'), optional: true, emit: saturation_of_batch  // for MOTIFS
    path 'ism/*.gradients.npz', optional: true,       emit: gradients
    path 'versions.yml',                              emit: versions

    script:
    def args     = task.ext.args ?: ''   // the model and readout flags PREDICT and ISM share (conf/modules.config)
    def model    = model_file ?: params.model
    // An ONNX model has no trunk to recompute around a SNV: full ISM (main.nf warns about its cost).
    def onnx     = model.toString().endsWith('.onnx')
    def backend  = onnx ? 'onnx' : (params.backend == 'onnx' ? 'torch' : params.backend)
    def method   = onnx ? '--method full' : "--method ${params.ism_method}"
    // hparams: a staged JSON file, or JSON text passed as it is
    def hparams  = hparams_file ? "--hparams ${hparams_file}" : (params.hparams ? "--hparams '${params.hparams}'" : '')
    def weights  = finetuned_weights ? "--finetuned-weights ${finetuned_weights}" : ''
    def names    = track_names ? "--track-names ${track_names}" : ''
    def fullfwd  = onnx || params.allow_full_forward ? '--allow-full-forward' : ''
    def grads    = params.gradients ? '--gradients' : ''
    """
    seqgx ism \\
        --haplotypes ${haplotypes} --model ${model} ${hparams} ${weights} ${names} ${tracks} ${args} \\
        --backend ${backend} ${method} ${fullfwd} ${grads} --tss-window ${params.tss_window} \\
        --threads ${task.cpus} --out ism

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        seqgx: \$(seqgx --version | sed 's/seqgx //')
        torch: \$(python -c 'import torch; print(torch.__version__)')
    END_VERSIONS
    """

    stub:
    """
    mkdir -p ism
    touch ism/${batch_id}.stub.ism.tsv ism/${batch_id}.stub.ism.json ism/${batch_id}.stub.saturation.npz
    printf '"%s":\\n    seqgx: stub\\n' "${task.process}" > versions.yml
    """
}
