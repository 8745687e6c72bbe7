process ISM {
    tag "${batch_id}"
    label 'process_gpu'

    input:
    tuple val(batch_id), path(haplotypes)
    path model_file         // torch weights (fast ISM), or the .onnx file when there are none; [] for 'oracle'
    path hparams_file       // [] unless hparams names a JSON file
    path finetuned_weights  // [] when not given; several with tissues (named finetuned:<stem>)
    path track_names        // [] when not given
    val model_args          // the plan's flags (seqgx plan): backend, readouts, ISM method, a named model

    output:
    tuple val(batch_id), path('ism/*.ism.tsv'),       emit: ism
    path 'ism/*.ism.json',                            emit: info   // method and model identity per gene
    path 'ism/*.saturation.npz', optional: true,      emit: saturation
    tuple val(batch_id), path('ism/*.saturation.npz'), optional: true, emit: saturation_of_batch  // for MOTIFS
    path 'ism/*.gradients.npz', optional: true,       emit: gradients
    path 'versions.yml',                              emit: versions

    script:
    def args     = task.ext.args ?: ''   // the parameters passed as they are (conf/modules.config, generated from the registry)
    def model    = model_file ? "--model ${model_file}" : ''
    def hparams  = hparams_file ? "--hparams ${hparams_file}" : ''
    def weights  = finetuned_weights ? "--finetuned-weights ${finetuned_weights}" : ''
    def names    = track_names ? "--track-names ${track_names}" : ''
    """
    seqgx ism \\
        --haplotypes ${haplotypes} ${model} ${hparams} ${weights} ${names} ${model_args} ${args} \\
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
